"use client";
import { useEffect, useRef, useState, type RefObject } from "react";
import type { InspectResult } from "@/lib/definitions";
import { ImageDropzone, type InspectState } from "./ImageDropzone";

interface ChosenImage {
  file: File | null;
  /** The browser's own preview (PNG/JPEG) while /api/inspect reads the file. */
  localPreview: string | null;
  inspect: InspectState;
}

const NO_IMAGE: ChosenImage = { file: null, localPreview: null, inspect: { status: "idle" } };

/**
 * The chosen X-ray and what /api/inspect says about it. `onRead` gets each result for the file that
 * is still the chosen one (a later choice makes an earlier answer stale).
 */
export function useChosenImage(
  inspectImage: (file: File) => Promise<InspectResult>,
  onRead: (result: InspectResult) => void,
) {
  const [image, setImage] = useState<ChosenImage>(NO_IMAGE);
  const current = useRef<File | null>(null);
  const onReadRef = useRef(onRead);
  onReadRef.current = onRead;

  useEffect(() => {
    const url = image.localPreview;
    return () => {
      if (url && typeof URL.revokeObjectURL === "function") URL.revokeObjectURL(url);
    };
  }, [image.localPreview]);

  function choose(file: File) {
    current.current = file;
    const canPreview = /^image\/(png|jpeg)$/.test(file.type) && typeof URL.createObjectURL === "function";
    setImage({ file, localPreview: canPreview ? URL.createObjectURL(file) : null, inspect: { status: "loading" } });
    inspectImage(file).then(
      (result) => {
        if (current.current !== file) return;
        setImage((prev) => ({ ...prev, inspect: { status: "done", result } }));
        onReadRef.current(result);
      },
      (error: unknown) => {
        if (current.current !== file) return;
        setImage((prev) => ({ ...prev, inspect: { status: "error", error } }));
      },
    );
  }

  function remove() {
    current.current = null;
    setImage(NO_IMAGE);
  }

  return { ...image, choose, remove };
}

/** Step 2: the X-ray picker, and what the DICOM header filled in (announced politely). */
export function ImageStep({
  image,
  error,
  disabled,
  browseRef,
  prefillNote,
  onChoose,
  onRemove,
}: {
  image: ChosenImage;
  error?: string;
  disabled: boolean;
  browseRef: RefObject<HTMLButtonElement | null>;
  prefillNote: string;
  onChoose: (file: File) => void;
  onRemove: () => void;
}) {
  const inputRef = useRef<HTMLInputElement>(null);
  return (
    <fieldset className="fieldset" disabled={disabled}>
      <legend>2. Chest X-ray</legend>
      <ImageDropzone
        file={image.file}
        inspect={image.inspect}
        localPreview={image.localPreview}
        error={error}
        disabled={disabled}
        inputRef={inputRef}
        browseRef={browseRef}
        onChoose={onChoose}
        onRemove={onRemove}
      />
      <p className="visually-hidden" role="status" aria-live="polite" data-testid="prefill-status">
        {prefillNote}
      </p>
      {prefillNote && (
        <p className="hint hint--prefilled" aria-hidden="true">
          {prefillNote}
        </p>
      )}
    </fieldset>
  );
}
