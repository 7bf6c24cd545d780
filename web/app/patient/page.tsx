import type { Metadata } from "next";
import { Suspense } from "react";
import { RequireSignIn } from "../ui/auth/RequireSignIn";
import { Skeleton } from "../ui/common/Skeleton";
import { PatientPage } from "../ui/patients/PatientPage";

export const metadata: Metadata = { title: "Patient" };

export default function Page() {
  return (
    <Suspense fallback={<Skeleton lines={6} label="Loading the patient…" />}>
      <RequireSignIn>
        <PatientPage />
      </RequireSignIn>
    </Suspense>
  );
}
