"use client";
import { useRouter } from "next/navigation";
import { useEffect, useState } from "react";
import { whoAmI } from "@/lib/admin-api";
import type { User } from "@/lib/definitions";
import { ErrorNotice } from "../common/ErrorNotice";
import { Skeleton } from "../common/Skeleton";
import { AuditPanel } from "./AuditPanel";
import { UsersPanel } from "./UsersPanel";

/** Administration: users (create, disable/enable, reset password, unlock) and the audit log. Admins only. */
export function AdminPage() {
  const router = useRouter();
  const [me, setMe] = useState<User | null | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    const ctrl = new AbortController();
    whoAmI(ctrl.signal).then(
      (user) => {
        setMe(user);
        if (user === null) router.replace(`/login/?next=${encodeURIComponent("/admin/")}`);
      },
      (e: unknown) => {
        if (!ctrl.signal.aborted) setError(e);
      },
    );
    return () => ctrl.abort();
  }, [router]);

  if (error) return <ErrorNotice error={error} />;
  if (me === undefined) return <Skeleton lines={4} label="Checking who is signed in…" />;
  if (me === null)
    return (
      <p className="notice" role="status">
        Please sign in as an administrator.
      </p>
    );
  if (me.role !== "admin")
    return (
      <div className="notice notice--warning" role="alert">
        <h1 className="notice__title">Administrators only</h1>
        <p>
          You are signed in as {me.username} ({me.role}). Ask an administrator for access.
        </p>
      </div>
    );
  return (
    <div className="admin">
      <h1>Administration</h1>
      <UsersPanel me={me} />
      <AuditPanel />
    </div>
  );
}
