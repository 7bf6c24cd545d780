import type { Metadata } from "next";
import { Suspense } from "react";
import { AdminPage } from "../ui/admin/AdminPage";
import { Skeleton } from "../ui/common/Skeleton";

export const metadata: Metadata = { title: "Administration" };

export default function Page() {
  return (
    <Suspense fallback={<Skeleton lines={5} label="Loading administration…" />}>
      <AdminPage />
    </Suspense>
  );
}
