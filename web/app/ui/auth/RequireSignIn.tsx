"use client";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useEffect, type ReactNode } from "react";
import { Skeleton } from "../common/Skeleton";
import { loginHref, useAuth } from "./AuthProvider";

/** Patient data needs a signed-in clinician: send anyone else to the sign-in page, then back. */
export function RequireSignIn({ children }: { children: ReactNode }) {
  const { state } = useAuth();
  const router = useRouter();
  useEffect(() => {
    if (state.status === "signed-out") router.replace(loginHref());
  }, [state.status, router]);

  if (state.status === "loading") return <Skeleton lines={4} label="Checking who is signed in…" />;
  if (state.status === "signed-out")
    return (
      <div className="notice notice--info" role="status">
        <h1 className="notice__title">Please sign in</h1>
        <p>Patient records are only shown to signed-in clinicians.</p>
        <p>
          <Link href={loginHref()}>Go to the sign-in page</Link>
        </p>
      </div>
    );
  return <>{children}</>;
}
