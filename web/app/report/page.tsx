import type { Metadata } from "next";
import { Suspense } from "react";
import { RequireSignIn } from "../ui/auth/RequireSignIn";
import { Skeleton } from "../ui/common/Skeleton";
import { ReportPage } from "../ui/report/ReportPage";

export const metadata: Metadata = { title: "Report" };

export default function Page() {
  return (
    <Suspense fallback={<Skeleton lines={6} image label="Loading the report…" />}>
      <RequireSignIn>
        <ReportPage />
      </RequireSignIn>
    </Suspense>
  );
}
