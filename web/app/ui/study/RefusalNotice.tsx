"use client";
import { useEffect, useRef } from "react";
import type { ApiError } from "@/lib/api";
import { refusalReasonText } from "@/lib/format";

/**
 * The server's refusal of an image (422 not_chest_xray): why, in plain words, the server's own
 * message verbatim, and a way to try another image. Focused when it appears.
 */
export function RefusalNotice({ error, onTryAnother }: { error: ApiError; onTryAnother?: () => void }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    ref.current?.focus();
  }, [error]);
  return (
    <div
      ref={ref}
      className="notice notice--warning"
      role="alert"
      data-testid="refusal"
      tabIndex={-1}
      aria-labelledby="refusal-title"
    >
      <h2 className="notice__title" id="refusal-title">
        This image was not analysed
      </h2>
      <p data-testid="refusal-reason">{refusalReasonText(error.reason)}</p>
      <p className="notice__message" data-testid="refusal-message">
        {error.message}
      </p>
      <p>
        PneumoScan only reads frontal chest X-rays (PA or AP) saved as PNG, JPEG or DICOM. The patient&apos;s details
        you typed are kept.
      </p>
      {onTryAnother && (
        <p className="notice__actions">
          <button type="button" className="button" onClick={onTryAnother}>
            Try another image
          </button>
        </p>
      )}
    </div>
  );
}
