"use client";
import { useState, type RefObject } from "react";
import { errorMessage } from "@/lib/api";
import type { InspectResult } from "@/lib/definitions";
import { dateFromDicom, formatBytes, formatDate, refusalReasonText } from "@/lib/format";

export const ACCEPT = ".png,.jpg,.jpeg,.dcm,.dicom,image/png,image/jpeg,application/dicom";

export type InspectState =
  | { status: "idle" }
  | { status: "loading" }
  | { status: "done"; result: InspectResult }
  | { status: "error"; error: unknown };

const FORMAT_NAMES: Record<string, string> = { png: "PNG", jpeg: "JPEG", dicom: "DICOM" };

/**
 * The X-ray picker: drag and drop, or a "Browse files" button (keyboard), over a file input
 * labelled "Chest X-ray image". Shows a preview (the server's /api/inspect rendering, or the
 * browser's own while that loads) and the DICOM tags when there are any.
 */
export function ImageDropzone({
  file,
  inspect,
  localPreview,
  error,
  disabled,
  inputRef,
  browseRef,
  onChoose,
  onRemove,
}: {
  file: File | null;
  inspect: InspectState;
  localPreview: string | null;
  error?: string;
  disabled?: boolean;
  inputRef: RefObject<HTMLInputElement | null>;
  browseRef: RefObject<HTMLButtonElement | null>;
  onChoose: (file: File) => void;
  onRemove: () => void;
}) {
  const [dragging, setDragging] = useState(false);
  const preview = inspect.status === "done" && inspect.result.preview ? inspect.result.preview : localPreview;
  const dicom = inspect.status === "done" ? inspect.result.dicom : null;
  const modality = dicom?.modality?.toUpperCase();
  const unusualModality = modality && !["CR", "DX", "DR", "RG", "OT"].includes(modality);

  return (
    <div className="field">
      <div
        className={`dropzone${dragging ? " dropzone--dragging" : ""}${error ? " dropzone--invalid" : ""}`}
        data-testid="dropzone"
        onDragEnter={(e) => {
          e.preventDefault();
          if (!disabled) setDragging(true);
        }}
        onDragOver={(e) => {
          e.preventDefault();
          if (!disabled) e.dataTransfer.dropEffect = "copy";
        }}
        onDragLeave={(e) => {
          if (e.currentTarget.contains(e.relatedTarget as Node | null)) return;
          setDragging(false);
        }}
        onDrop={(e) => {
          e.preventDefault();
          setDragging(false);
          if (disabled) return;
          const f = e.dataTransfer.files?.[0];
          if (f) onChoose(f);
        }}
      >
        <label htmlFor="xray-file" className="dropzone__title">
          Chest X-ray image
        </label>
        <input
          ref={inputRef}
          id="xray-file"
          name="image"
          type="file"
          accept={ACCEPT}
          className="visually-hidden"
          tabIndex={-1}
          disabled={disabled}
          aria-invalid={error ? true : undefined}
          aria-describedby={`xray-hint${error ? " xray-error" : ""}`}
          onChange={(e) => {
            const f = e.target.files?.[0];
            if (f) onChoose(f);
            // Allow choosing the same file again after "Try another image".
            e.target.value = "";
          }}
        />
        <p id="xray-hint" className="hint">
          A frontal (PA or AP) chest X-ray as PNG, JPEG or DICOM. Drag and drop the file onto this box, or browse for
          it.
        </p>
        <p>
          <button
            ref={browseRef}
            type="button"
            className="button button--secondary"
            disabled={disabled}
            onClick={() => inputRef.current?.click()}
          >
            {file ? "Choose a different file…" : "Browse files…"}
          </button>
        </p>
        {error && (
          <p id="xray-error" className="field-error" data-testid="error-image">
            {error}
          </p>
        )}
      </div>

      {file && (
        <div className="xray-picked" data-testid="xray-picked">
          <div className="xray-picked__preview">
            {preview ? (
              // eslint-disable-next-line @next/next/no-img-element
              <img src={preview} alt="Preview of the chosen X-ray" data-testid="xray-preview" />
            ) : inspect.status === "loading" ? (
              <div className="skeleton__block skeleton__block--image" aria-hidden="true" />
            ) : (
              <div className="xray-picked__nopreview">No preview</div>
            )}
          </div>
          <div className="xray-picked__meta">
            <p className="xray-picked__name">{file.name}</p>
            <p className="hint">
              {formatBytes(file.size)}
              {inspect.status === "done" && (
                <>
                  {" · "}
                  {FORMAT_NAMES[inspect.result.format] ?? inspect.result.format}
                  {inspect.result.width && inspect.result.height
                    ? ` · ${inspect.result.width} × ${inspect.result.height} px`
                    : ""}
                </>
              )}
            </p>
            <p className="visually-hidden" role="status" aria-live="polite">
              {inspect.status === "loading" ? "Reading the image…" : inspect.status === "done" ? "Image read." : ""}
            </p>
            {inspect.status === "loading" && <p className="hint">Reading the image…</p>}
            {inspect.status === "error" && (
              <p className="field-error" role="alert" data-testid="inspect-error">
                {errorMessage(inspect.error)}
              </p>
            )}
            {dicom && (
              <dl className="dl dl--compact" data-testid="dicom-tags">
                <dt>Modality</dt>
                <dd>{dicom.modality || "—"}</dd>
                <dt>View</dt>
                <dd>{dicom.view_position || "—"}</dd>
                <dt>Study date</dt>
                <dd>{formatDate(dateFromDicom(dicom.study_date) ?? dicom.study_date)}</dd>
              </dl>
            )}
            {inspect.status === "done" && inspect.result.refusal && (
              <div className="hint hint--warning" data-testid="inspect-warning">
                <strong>This image will probably be refused.</strong> {refusalReasonText(inspect.result.refusal.reason)}{" "}
                {inspect.result.refusal.message}
              </div>
            )}
            {unusualModality && !(inspect.status === "done" && inspect.result.refusal) && (
              <p className="hint hint--warning">
                The DICOM header says modality {modality}. PneumoScan reads plain chest X-rays (CR or DX).
              </p>
            )}
            <p>
              <button type="button" className="button button--link" onClick={onRemove} disabled={disabled}>
                Remove image
              </button>
            </p>
          </div>
        </div>
      )}
    </div>
  );
}
