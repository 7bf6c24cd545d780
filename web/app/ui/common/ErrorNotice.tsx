"use client";
import Link from "next/link";
import { errorMessage, isApiError } from "@/lib/api";

/**
 * An API or network error, kindly: a calm heading, the server's own message verbatim,
 * and a way forward (retry and/or a link). Announced with role="alert".
 */
export function ErrorNotice({
  error,
  title,
  onRetry,
  backHref,
  backLabel,
}: {
  error: unknown;
  title?: string;
  onRetry?: () => void;
  backHref?: string;
  backLabel?: string;
}) {
  const notFound = isApiError(error) && error.status === 404;
  const network = isApiError(error) && error.kind === "network";
  const heading =
    title ?? (notFound ? "Not found" : network ? "The server could not be reached" : "Something went wrong");
  return (
    <div className="notice notice--error" role="alert" data-testid="api-error">
      <h2 className="notice__title">{heading}</h2>
      <p className="notice__message" data-testid="api-error-message">
        {errorMessage(error)}
      </p>
      {(onRetry || backHref) && (
        <p className="notice__actions">
          {onRetry && !notFound && (
            <button type="button" className="button button--secondary" onClick={onRetry}>
              Try again
            </button>
          )}
          {backHref && (
            <Link className="button button--secondary" href={backHref}>
              {backLabel ?? "Go back"}
            </Link>
          )}
        </p>
      )}
    </div>
  );
}

/** Shown when a page is opened without a usable ?id=. */
export function MissingId({ what, href, linkLabel }: { what: string; href: string; linkLabel: string }) {
  return (
    <div className="notice notice--info" role="status">
      <h2 className="notice__title">No {what} chosen</h2>
      <p>
        This page needs a {what} number in its address (for example <code>?id=1</code>).
      </p>
      <p>
        <Link href={href}>{linkLabel}</Link>
      </p>
    </div>
  );
}
