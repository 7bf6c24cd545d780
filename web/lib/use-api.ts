"use client";
/** Minimal data-loading hook: loading / error / data, with abort on change and a retry. */
import { useCallback, useEffect, useState } from "react";
import { isUnauthorized, notifyUnauthorized } from "./api";

export type ApiState<T> =
  | { status: "loading"; data: null; error: null }
  | { status: "error"; data: null; error: unknown }
  | { status: "success"; data: T; error: null };

export function useApi<T>(
  load: ((signal: AbortSignal) => Promise<T>) | null,
  deps: unknown[],
): ApiState<T> & { reload: () => void } {
  const [state, setState] = useState<ApiState<T>>({ status: "loading", data: null, error: null });
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    if (!load) return;
    const ctrl = new AbortController();
    setState({ status: "loading", data: null, error: null });
    load(ctrl.signal).then(
      (data) => {
        if (!ctrl.signal.aborted) setState({ status: "success", data, error: null });
      },
      (error: unknown) => {
        if (ctrl.signal.aborted) return;
        setState({ status: "error", data: null, error });
        // The session ended: the app sends the user to sign in (and back here afterwards).
        if (isUnauthorized(error)) notifyUnauthorized();
      },
    );
    return () => ctrl.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, attempt]);

  const reload = useCallback(() => setAttempt((n) => n + 1), []);
  return { ...state, reload };
}
