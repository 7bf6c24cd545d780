import type { Metadata } from "next";
import { Suspense } from "react";
import { Skeleton } from "../ui/common/Skeleton";
import { PatientPage } from "../ui/patients/PatientPage";

export const metadata: Metadata = { title: "Patient" };

export default function Page() {
  return (
    <Suspense fallback={<Skeleton lines={6} label="Loading the patient…" />}>
      <PatientPage />
    </Suspense>
  );
}
