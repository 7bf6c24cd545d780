"use client";
import Link from "next/link";
import { useRef, useState } from "react";
import { uploadBatch, uploadableFiles, type BatchFile, type Uploader } from "@/lib/worklist";

const STATUS_WORDS: Record<BatchFile["status"], string> = {
  waiting: "Waiting",
  uploading: "Uploading",
  done: "Stored",
  failed: "Not stored",
};

/** Several X-rays (or a whole folder) uploaded one after the other, with progress for each file. */
export function BatchUpload({ onDone, upload }: { onDone?: () => void; upload?: Uploader }) {
  const [files, setFiles] = useState<BatchFile[]>([]);
  const [busy, setBusy] = useState(false);
  const [skipped, setSkipped] = useState(0);
  const folderRef = useRef<HTMLInputElement>(null);

  async function start(list: FileList | null) {
    if (!list || busy) return;
    const all = [...list];
    const chosen = uploadableFiles(all);
    setSkipped(all.length - chosen.length);
    if (!chosen.length) {
      setFiles([]);
      return;
    }
    setBusy(true);
    try {
      await uploadBatch(chosen, setFiles, upload);
    } finally {
      setBusy(false);
      onDone?.();
    }
  }

  const done = files.filter((f) => f.status === "done").length;
  const failed = files.filter((f) => f.status === "failed").length;
  return (
    <section className="card batch" aria-labelledby="batch-title">
      <h2 id="batch-title">Upload several X-rays</h2>
      <p className="hint">
        PNG, JPEG or DICOM files, or a whole folder. Each becomes a study on the worklist (the age is read from DICOM
        tags; add patients and ages on each study afterwards).
      </p>
      <div className="batch__inputs">
        <div className="field">
          <label htmlFor="batch-files" className="field__label">
            X-ray files
          </label>
          <input
            id="batch-files"
            type="file"
            multiple
            disabled={busy}
            accept=".png,.jpg,.jpeg,.dcm,.dicom,image/png,image/jpeg,application/dicom"
            onChange={(e) => {
              void start(e.currentTarget.files);
              e.currentTarget.value = "";
            }}
          />
        </div>
        <div className="field">
          <label htmlFor="batch-folder" className="field__label">
            A folder of X-rays
          </label>
          <input
            id="batch-folder"
            ref={folderRef}
            type="file"
            multiple
            disabled={busy}
            {...{ webkitdirectory: "", directory: "" }}
            onChange={(e) => {
              void start(e.currentTarget.files);
              e.currentTarget.value = "";
            }}
          />
        </div>
      </div>
      <p className="results-count" aria-live="polite" data-testid="batch-summary">
        {files.length
          ? `${done} of ${files.length} stored${failed ? `, ${failed} not stored` : ""}${busy ? "…" : "."}`
          : ""}
        {skipped ? ` ${skipped} file${skipped === 1 ? "" : "s"} skipped (not PNG, JPEG or DICOM).` : ""}
      </p>
      {files.length > 0 && (
        <ul className="batch__list plain-list" aria-label="Files being uploaded">
          {files.map((f, i) => (
            <li key={`${i}-${f.name}`} className={`batch__file batch__file--${f.status}`} data-testid="batch-file">
              <span className="batch__name">{f.name}</span>
              <progress max={1} value={f.status === "done" ? 1 : f.progress} aria-label={`Upload of ${f.name}`} />
              <span className="batch__status" data-testid="batch-status">
                {STATUS_WORDS[f.status]}
                {f.status === "done" && f.studyId != null && (
                  <>
                    {" "}
                    <Link href={`/study/?id=${f.studyId}`}>study {f.studyId}</Link>
                  </>
                )}
                {f.message ? `: ${f.message}` : ""}
              </span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
