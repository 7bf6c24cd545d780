import type { Metadata } from "next";
import { Suspense } from "react";
import { RequireSignIn } from "../ui/auth/RequireSignIn";
import { Skeleton } from "../ui/common/Skeleton";
import { StudyPage } from "../ui/study/StudyPage";

export const metadata: Metadata = { title: "Result" };

export default function Page() {
  return (
    <Suspense fallback={<Skeleton lines={4} image label="Loading the result…" />}>
      <RequireSignIn>
        <StudyPage />
      </RequireSignIn>
    </Suspense>
  );
}
