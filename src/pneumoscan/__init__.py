"""PneumoScan: chest X-ray pneumonia screening support (research use, not a diagnosis)."""

__version__ = "0.1.0"

CLASS_NAMES: tuple[str, str] = ("NORMAL", "PNEUMONIA")
"""Class order used everywhere: index 1 is the positive class (pneumonia)."""
