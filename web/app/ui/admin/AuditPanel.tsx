"use client";
import { useCallback, useEffect, useState } from "react";
import { getAudit, type AuditFilter } from "@/lib/admin-api";
import type { AuditPage } from "@/lib/definitions";
import { ErrorNotice } from "../common/ErrorNotice";
import { Skeleton } from "../common/Skeleton";

function when(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString("en-GB", { timeZone: "UTC" }) + " UTC";
}

/** The audit log, newest first, filterable by user, patient and date. */
export function AuditPanel() {
  const [draft, setDraft] = useState<AuditFilter>({});
  const [filter, setFilter] = useState<AuditFilter>({ page: 1 });
  const [page, setPage] = useState<AuditPage | null>(null);
  const [error, setError] = useState<unknown>(null);

  const load = useCallback(() => {
    setError(null);
    getAudit(filter).then(setPage, (e: unknown) => setError(e));
  }, [filter]);
  useEffect(load, [load]);

  function onFilter(e: React.FormEvent) {
    e.preventDefault();
    setFilter({ ...draft, page: 1 });
  }

  const current = filter.page ?? 1;
  const pages = page ? Math.max(1, Math.ceil(page.total / page.per_page)) : 1;

  return (
    <section className="card" aria-labelledby="audit-title">
      <h2 id="audit-title">Audit log</h2>
      <form className="admin__filters" onSubmit={onFilter}>
        <div className="field">
          <label htmlFor="audit-user" className="field__label">
            User
          </label>
          <input
            id="audit-user"
            type="text"
            value={draft.user ?? ""}
            onChange={(e) => setDraft({ ...draft, user: e.target.value.trim() })}
          />
        </div>
        <div className="field">
          <label htmlFor="audit-patient" className="field__label">
            Patient id
          </label>
          <input
            id="audit-patient"
            type="text"
            inputMode="numeric"
            value={draft.patientId ?? ""}
            onChange={(e) => setDraft({ ...draft, patientId: e.target.value.replace(/\D/g, "") })}
          />
        </div>
        <div className="field">
          <label htmlFor="audit-since" className="field__label">
            From
          </label>
          <input
            id="audit-since"
            type="date"
            value={draft.since ?? ""}
            onChange={(e) => setDraft({ ...draft, since: e.target.value })}
          />
        </div>
        <div className="field">
          <label htmlFor="audit-until" className="field__label">
            To
          </label>
          <input
            id="audit-until"
            type="date"
            value={draft.until ?? ""}
            onChange={(e) => setDraft({ ...draft, until: e.target.value })}
          />
        </div>
        <button type="submit" className="button">
          Filter
        </button>
      </form>
      {error != null && <ErrorNotice error={error} onRetry={load} />}
      {page === null && error == null && <Skeleton lines={4} label="Loading the audit log…" />}
      {page && (
        <>
          <p className="hint" role="status">
            {page.total} entr{page.total === 1 ? "y" : "ies"}
          </p>
          <div className="table-wrap">
            <table className="table" aria-label="Audit log">
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">User</th>
                  <th scope="col">Action</th>
                  <th scope="col">Object</th>
                  <th scope="col">Patient</th>
                  <th scope="col">Outcome</th>
                  <th scope="col">Address</th>
                </tr>
              </thead>
              <tbody>
                {page.items.map((e) => (
                  <tr key={e.id}>
                    <td>{when(e.at)}</td>
                    <td>{e.username ?? "—"}</td>
                    <td>{e.action}</td>
                    <td>{e.object_type ? `${e.object_type}${e.object_id != null ? ` ${e.object_id}` : ""}` : "—"}</td>
                    <td>{e.patient_id ?? "—"}</td>
                    <td>
                      {e.outcome}
                      {e.status ? ` (${e.status})` : ""}
                    </td>
                    <td>{e.client_address ?? "—"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {pages > 1 && (
            <nav className="notice__actions" aria-label="Audit log pages">
              <button
                type="button"
                className="button button--secondary"
                disabled={current <= 1}
                onClick={() => setFilter({ ...filter, page: current - 1 })}
              >
                Newer
              </button>
              <span>
                Page {current} of {pages}
              </span>
              <button
                type="button"
                className="button button--secondary"
                disabled={current >= pages}
                onClick={() => setFilter({ ...filter, page: current + 1 })}
              >
                Older
              </button>
            </nav>
          )}
        </>
      )}
    </section>
  );
}
