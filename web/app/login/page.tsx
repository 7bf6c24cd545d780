import type { Metadata } from "next";
import { Suspense } from "react";
import { LoginForm } from "../ui/auth/LoginForm";
import { Skeleton } from "../ui/common/Skeleton";

export const metadata: Metadata = { title: "Sign in" };

export default function Page() {
  return (
    <Suspense fallback={<Skeleton lines={3} label="Loading…" />}>
      <LoginForm />
    </Suspense>
  );
}
