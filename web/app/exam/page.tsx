import type { Metadata } from "next";
import { Suspense } from "react";
import { RequireSignIn } from "../ui/auth/RequireSignIn";
import { Skeleton } from "../ui/common/Skeleton";
import { ExamPage } from "../ui/exam/ExamPage";

export const metadata: Metadata = { title: "New examination" };

export default function Page() {
  return (
    <Suspense fallback={<Skeleton lines={6} label="Loading the form…" />}>
      <RequireSignIn>
        <ExamPage />
      </RequireSignIn>
    </Suspense>
  );
}
