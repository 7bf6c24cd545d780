"use client";
import { useRouter, useSearchParams } from "next/navigation";
import { useEffect, useRef, useState } from "react";
import { errorMessage, isApiError, login } from "@/lib/api";
import { safeNext, useAuth } from "./AuthProvider";

/** Sign-in: username and password; the server's refusals (wrong password, lock, slow-down) verbatim. */
export function LoginForm() {
  const router = useRouter();
  const next = safeNext(useSearchParams().get("next"));
  const { state, refresh } = useAuth();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [errors, setErrors] = useState<{ username?: string; password?: string }>({});
  const [failure, setFailure] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const userRef = useRef<HTMLInputElement>(null);
  const passRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    userRef.current?.focus();
  }, []);

  async function onSubmit(e: React.FormEvent) {
    e.preventDefault();
    if (busy) return;
    const errs: typeof errors = {};
    if (!username.trim()) errs.username = "Enter your username.";
    if (!password) errs.password = "Enter your password.";
    setErrors(errs);
    setFailure(null);
    if (errs.username) return userRef.current?.focus();
    if (errs.password) return passRef.current?.focus();
    setBusy(true);
    try {
      await login(username.trim(), password);
      await refresh();
      router.replace(next);
    } catch (err) {
      setFailure(err);
      setPassword("");
      setBusy(false);
      setTimeout(() => passRef.current?.focus(), 0);
    }
  }

  const retryAfter = isApiError(failure) && (failure.status === 429 || failure.status === 423);

  return (
    <form className="login card" onSubmit={onSubmit} noValidate aria-labelledby="login-title">
      <h1 id="login-title">Sign in</h1>
      <p className="hint">Patient records and examinations are for signed-in clinicians.</p>
      {state.status === "signed-in" && !busy && (
        <p className="notice notice--info" role="status">
          You are signed in as {state.user.username}. Signing in again replaces that session.
        </p>
      )}
      <div className={`field${errors.username ? " field--invalid" : ""}`}>
        <label htmlFor="login-username" className="field__label">
          Username
        </label>
        <input
          ref={userRef}
          id="login-username"
          name="username"
          type="text"
          autoComplete="username"
          autoCapitalize="none"
          spellCheck={false}
          value={username}
          onChange={(e) => setUsername(e.target.value)}
          aria-invalid={errors.username ? true : undefined}
          aria-describedby={errors.username ? "login-username-error" : undefined}
        />
        {errors.username && (
          <p id="login-username-error" className="field-error">
            {errors.username}
          </p>
        )}
      </div>
      <div className={`field${errors.password ? " field--invalid" : ""}`}>
        <label htmlFor="login-password" className="field__label">
          Password
        </label>
        <input
          ref={passRef}
          id="login-password"
          name="password"
          type="password"
          autoComplete="current-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          aria-invalid={errors.password ? true : undefined}
          aria-describedby={errors.password ? "login-password-error" : undefined}
        />
        {errors.password && (
          <p id="login-password-error" className="field-error">
            {errors.password}
          </p>
        )}
      </div>
      {failure != null && (
        <div className="notice notice--error" role="alert" data-testid="login-error">
          <p className="notice__message">{errorMessage(failure)}</p>
          {retryAfter && <p>Wait a little before trying again; an administrator can unlock the account.</p>}
        </div>
      )}
      <p className="visually-hidden" role="status" aria-live="polite">
        {busy ? "Signing in…" : ""}
      </p>
      <button type="submit" className="button" aria-disabled={busy || undefined}>
        {busy ? "Signing in…" : "Sign in"}
      </button>
    </form>
  );
}
