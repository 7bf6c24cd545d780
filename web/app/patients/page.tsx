import type { Metadata } from "next";
import { Suspense } from "react";
import { RequireSignIn } from "../ui/auth/RequireSignIn";
import { Skeleton } from "../ui/common/Skeleton";
import { PatientsPage } from "../ui/patients/PatientsPage";

export const metadata: Metadata = { title: "Patients" };

export default function Page() {
  return (
    <Suspense fallback={<Skeleton lines={5} label="Loading patients…" />}>
      <RequireSignIn>
        <PatientsPage />
      </RequireSignIn>
    </Suspense>
  );
}
