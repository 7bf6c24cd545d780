"use client";
import Link from "next/link";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useEffect, useState } from "react";
import { listPatients } from "@/lib/api";
import { formatDate, patientAge, sexLabel } from "@/lib/format";
import { useApi } from "@/lib/use-api";
import { ErrorNotice } from "../common/ErrorNotice";
import { Skeleton } from "../common/Skeleton";

const PER_PAGE = 20;

/** The patient list with a search box (name or MRN); the query and page live in the address. */
export function PatientsPage() {
  const params = useSearchParams();
  const router = useRouter();
  const pathname = usePathname() ?? "/patients/";
  const q = params.get("q") ?? "";
  const page = Math.max(1, Number(params.get("page")) || 1);
  const [text, setText] = useState(q);

  // Debounce typing into the address (which drives the request).
  useEffect(() => {
    if (text.trim() === q) return;
    const t = setTimeout(() => {
      const next = new URLSearchParams();
      if (text.trim()) next.set("q", text.trim());
      router.replace(next.size ? `${pathname}?${next}` : pathname, { scroll: false });
    }, 300);
    return () => clearTimeout(t);
  }, [text, q, pathname, router]);

  const list = useApi((signal) => listPatients({ q, page, per_page: PER_PAGE }, signal), [q, page]);

  function goTo(p: number) {
    const next = new URLSearchParams();
    if (q) next.set("q", q);
    if (p > 1) next.set("page", String(p));
    router.push(next.size ? `${pathname}?${next}` : pathname);
  }

  const total = list.status === "success" ? list.data.total : 0;
  const pages = Math.max(1, Math.ceil(total / PER_PAGE));

  return (
    <>
      <header className="page-head page-head--row">
        <h1>Patients</h1>
        <Link href="/exam/" className="button">
          New examination
        </Link>
      </header>

      <form
        role="search"
        className="search"
        onSubmit={(e) => {
          e.preventDefault();
          const next = new URLSearchParams();
          if (text.trim()) next.set("q", text.trim());
          router.replace(next.size ? `${pathname}?${next}` : pathname, { scroll: false });
        }}
      >
        <label htmlFor="patient-search">Search patients</label>
        <div className="search__row">
          <input
            id="patient-search"
            type="search"
            value={text}
            placeholder="Name or MRN"
            autoComplete="off"
            aria-describedby="patient-search-hint"
            onChange={(e) => setText(e.target.value)}
          />
          <button type="submit" className="button button--secondary">
            Search
          </button>
        </div>
        <p id="patient-search-hint" className="hint">
          Matches part of a name or a patient ID (MRN).
        </p>
      </form>

      <p role="status" aria-live="polite" className="results-count" data-testid="patients-count">
        {list.status === "success"
          ? total === 0
            ? q
              ? `No patient matches “${q}”.`
              : "No patients yet."
            : `${total} ${total === 1 ? "patient" : "patients"}${q ? ` matching “${q}”` : ""}.`
          : ""}
      </p>

      {list.status === "loading" && <Skeleton lines={5} label="Loading patients…" />}
      {list.status === "error" && (
        <ErrorNotice error={list.error} title="The patient list could not be loaded" onRetry={list.reload} />
      )}
      {list.status === "success" && list.data.items.length > 0 && (
        <div className="table-wrap">
          <table className="table" data-testid="patients-table">
            <caption className="visually-hidden">Patients{q ? ` matching “${q}”` : ""}</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">MRN</th>
                <th scope="col">Sex</th>
                <th scope="col">Age</th>
                <th scope="col">Added</th>
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((p) => (
                <tr key={p.id}>
                  <th scope="row">
                    <Link href={`/patient/?id=${p.id}`}>{p.name}</Link>
                  </th>
                  <td data-label="MRN">{p.mrn}</td>
                  <td data-label="Sex">{sexLabel(p.sex)}</td>
                  <td data-label="Age">{patientAge(p)}</td>
                  <td data-label="Added">{formatDate(p.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {list.status === "success" && list.data.items.length === 0 && !q && (
        <p>
          <Link href="/exam/">Start a new examination</Link> to add the first patient.
        </p>
      )}
      {list.status === "success" && pages > 1 && (
        <nav className="pager" aria-label="Pages">
          <button
            type="button"
            className="button button--secondary"
            disabled={page <= 1}
            onClick={() => goTo(page - 1)}
          >
            Previous
          </button>
          <span>
            Page {page} of {pages}
          </span>
          <button
            type="button"
            className="button button--secondary"
            disabled={page >= pages}
            onClick={() => goTo(page + 1)}
          >
            Next
          </button>
        </nav>
      )}
    </>
  );
}
