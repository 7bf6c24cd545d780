"use client";

/** Last line of defence: an unexpected error in a page shows this, never a blank page. */
export default function ErrorBoundary({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  return (
    <div className="notice notice--error" role="alert">
      <h1 className="notice__title">This page ran into a problem</h1>
      <p className="notice__message">{error.message || "An unexpected error occurred."}</p>
      <p className="notice__actions">
        <button type="button" className="button" onClick={reset}>
          Try again
        </button>
        <a className="button button--secondary" href="/">
          Go to the home page
        </a>
      </p>
    </div>
  );
}
