import type { Metadata } from "next";
import { Suspense } from "react";
import { RequireSignIn } from "../ui/auth/RequireSignIn";
import { Skeleton } from "../ui/common/Skeleton";
import { WorklistPage } from "../ui/worklist/WorklistPage";

export const metadata: Metadata = { title: "Worklist" };

export default function Page() {
  return (
    <Suspense fallback={<Skeleton lines={5} label="Loading the worklist…" />}>
      <RequireSignIn>
        <WorklistPage />
      </RequireSignIn>
    </Suspense>
  );
}
