"""Into the hospital's own systems: DICOM in (C-STORE SCP, STOW-RS), results out as DICOM (TID 1500
SR, heatmap Secondary Capture, Encapsulated PDF) and FHIR R4, the send queue to the PACS and the
worklist. Images that arrive over DICOM take the same path as an upload (``pneumoscan.api.intake``).
"""
