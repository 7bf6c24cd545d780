"use client";
/**
 * Who is signed in, for the whole app: GET /api/auth/me once, again after sign-in, and whenever a
 * request answers 401 (the session ended). Pages with patient data wrap themselves in RequireSignIn.
 */
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { UNAUTHORIZED_EVENT, csrfToken, getMe, isUnauthorized, logout } from "@/lib/api";
import type { User } from "@/lib/definitions";

export type AuthState =
  | { status: "loading"; user: null; error: null }
  | { status: "signed-in"; user: User; error: null }
  | { status: "signed-out"; user: null; error: null }
  /** The server could not say (network or server error): pages go on and show their own errors. */
  | { status: "unknown"; user: null; error: unknown };

interface AuthContextValue {
  state: AuthState;
  refresh: () => Promise<void>;
  signOut: () => Promise<void>;
}

const AuthContext = createContext<AuthContextValue | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<AuthState>({ status: "loading", user: null, error: null });

  const refresh = useCallback(async () => {
    // No CSRF token (cookie or sign-in answer) means no session: skip a request that can only 401.
    if (!csrfToken()) {
      setState({ status: "signed-out", user: null, error: null });
      return;
    }
    try {
      const me = await getMe();
      setState({ status: "signed-in", user: me.user, error: null });
    } catch (error) {
      if (isUnauthorized(error)) setState({ status: "signed-out", user: null, error: null });
      else setState({ status: "unknown", user: null, error });
    }
  }, []);

  const signOut = useCallback(async () => {
    try {
      await logout();
    } finally {
      setState({ status: "signed-out", user: null, error: null });
    }
  }, []);

  useEffect(() => {
    void refresh();
    const onUnauthorized = () => setState({ status: "signed-out", user: null, error: null });
    window.addEventListener(UNAUTHORIZED_EVENT, onUnauthorized);
    return () => window.removeEventListener(UNAUTHORIZED_EVENT, onUnauthorized);
  }, [refresh]);

  const value = useMemo(() => ({ state, refresh, signOut }), [state, refresh, signOut]);
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

/** The auth state; outside a provider (component tests) everyone counts as signed in. */
export function useAuth(): AuthContextValue {
  const ctx = useContext(AuthContext);
  if (ctx) return ctx;
  return {
    state: { status: "signed-in", user: { id: 0, username: "test", role: "clinician" }, error: null },
    refresh: async () => {},
    signOut: async () => {},
  };
}

/** "/login/?next=<here>" for the current page. */
export function loginHref(): string {
  if (typeof window === "undefined") return "/login/";
  const here = `${window.location.pathname}${window.location.search}`;
  return here.startsWith("/login") ? "/login/" : `/login/?next=${encodeURIComponent(here)}`;
}

/** Only same-site paths: "/study/?id=3" yes; "//evil.example", "https://...", "/login/" no. */
export function safeNext(next: string | null | undefined): string {
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return "/";
  if (next.startsWith("/login")) return "/";
  return next;
}
