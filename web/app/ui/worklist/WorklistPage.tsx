"use client";
import Link from "next/link";
import { useCallback, useEffect, useRef, useState } from "react";
import { isUnauthorized, notifyUnauthorized } from "@/lib/api";
import { formatPercent } from "@/lib/format";
import {
  getWorklist,
  markRead,
  READ_FILTERS,
  RESULT_FILTERS,
  todayUtc,
  urgencyLabel,
  type Uploader,
  type Worklist,
  type WorklistFilter,
  type WorklistItem,
} from "@/lib/worklist";
import { ErrorNotice } from "../common/ErrorNotice";
import { Skeleton } from "../common/Skeleton";
import { BatchUpload } from "./BatchUpload";

export const REFRESH_MS = 30_000;

const RESULT_WORDS: Record<WorklistFilter["result"], string> = {
  all: "All results",
  pneumonia: "Pneumonia suspected",
  normal: "Normal",
  refused: "Refused",
};
const READ_WORDS: Record<WorklistFilter["read"], string> = { all: "Read and unread", unread: "Unread", read: "Read" };

function time(iso: string | null | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleTimeString("en-GB", { timeZone: "UTC" }) + " UTC";
}

function sendWords(item: WorklistItem): string {
  const send = item.dicom_send;
  if (!send) return "";
  if (send.status === "sent") return "Results in the PACS";
  return `Sending to the PACS pending (${send.attempts ?? 0} tries${send.last_error ? `: ${send.last_error}` : ""})`;
}

function Row({ item, onRead, busy }: { item: WorklistItem; onRead: (id: number) => void; busy: boolean }) {
  const pred = item.prediction;
  return (
    <tr
      data-testid="worklist-row"
      data-study-id={item.id}
      data-urgency={item.urgency}
      className={`worklist__row worklist__row--${item.urgency}${item.read_at ? " worklist__row--read" : ""}`}
    >
      <td>
        {item.patient ? (
          <>
            {item.patient.name}
            <br />
            <span className="hint">{item.patient.mrn}</span>
          </>
        ) : (
          <span className="hint">No patient</span>
        )}
      </td>
      <td>
        {time(item.uploaded_at)}
        <br />
        <span className="hint">{item.source === "upload" ? "uploaded" : `received (${item.source})`}</span>
      </td>
      <td data-testid="worklist-result">
        {pred ? (
          <span className={`badge badge--${pred.label === "PNEUMONIA" ? "pneumonia" : "normal"}`}>
            {pred.label === "PNEUMONIA" ? "Pneumonia" : "Normal"} {formatPercent(pred.probability)}
          </span>
        ) : (
          <span className="badge badge--refused">Refused</span>
        )}
        <br />
        <span className="hint">{item.refusal ? item.refusal.message : urgencyLabel(item)}</span>
      </td>
      <td className="hint">{sendWords(item)}</td>
      <td>
        {item.read_at ? (
          <span data-testid="worklist-read">
            Read by {item.read_by ?? "someone"} at {time(item.read_at)}
          </span>
        ) : (
          <button
            type="button"
            className="button button--secondary"
            disabled={busy}
            aria-label={`Mark as read: study ${item.id}`}
            onClick={() => onRead(item.id)}
          >
            Mark as read
          </button>
        )}
      </td>
      <td>
        <Link href={`/study/?id=${item.id}`} aria-label={`Open study ${item.id}`}>
          Open
        </Link>
      </td>
    </tr>
  );
}

function Table({
  items,
  caption,
  onRead,
  busy,
  testId,
}: {
  items: WorklistItem[];
  caption: string;
  onRead: (id: number) => void;
  busy: number | null;
  testId: string;
}) {
  return (
    <div className="table-wrap">
      <table className="table worklist" data-testid={testId}>
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Patient</th>
            <th scope="col">Arrived</th>
            <th scope="col">Result</th>
            <th scope="col">PACS</th>
            <th scope="col">Read</th>
            <th scope="col">
              <span className="visually-hidden">Study</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {items.map((item) => (
            <Row key={item.id} item={item} onRead={onRead} busy={busy === item.id} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

/**
 * The day's studies, most urgent first (as the server sorts them: unread first, then furthest above the
 * threshold); refusals in a table of their own. Filters by day, result and read status; refreshes on its own.
 */
export function WorklistPage({ refreshMs = REFRESH_MS, upload }: { refreshMs?: number; upload?: Uploader }) {
  const [filter, setFilter] = useState<WorklistFilter>({ date: todayUtc(), result: "all", read: "all" });
  const [list, setList] = useState<Worklist | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [updated, setUpdated] = useState<string | null>(null);
  const [busy, setBusy] = useState<number | null>(null);
  const latest = useRef(0);

  const load = useCallback(() => {
    const ticket = ++latest.current;
    getWorklist(filter).then(
      (data) => {
        if (ticket !== latest.current) return; // an older answer arriving late
        setList(data);
        setError(null);
        setUpdated(new Date().toLocaleTimeString("en-GB"));
      },
      (e: unknown) => {
        if (ticket !== latest.current) return;
        setError(e);
        if (isUnauthorized(e)) notifyUnauthorized();
      },
    );
  }, [filter]);

  useEffect(() => {
    load();
    const timer = setInterval(load, refreshMs);
    return () => clearInterval(timer);
  }, [load, refreshMs]);

  async function onRead(id: number) {
    setBusy(id);
    try {
      await markRead(id);
      load();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(null);
    }
  }

  const items = list?.items ?? [];
  const answered = items.filter((it) => it.urgency !== "refused");
  const refused = items.filter((it) => it.urgency === "refused");
  return (
    <>
      <header className="page-head">
        <h1>Worklist</h1>
        <p className="page-head__sub">
          Most urgent first: unread studies the model finds furthest above its threshold lead. Images the model refused
          are listed apart: read them without the tool.
        </p>
      </header>
      <form className="worklist__filters" aria-label="Worklist filters" onSubmit={(e) => e.preventDefault()}>
        <div className="field">
          <label htmlFor="wl-date" className="field__label">
            Day (UTC)
          </label>
          <input
            id="wl-date"
            type="date"
            value={filter.date}
            onChange={(e) => setFilter({ ...filter, date: e.target.value })}
          />
        </div>
        <div className="field">
          <label htmlFor="wl-all-days" className="field__label">
            <input
              id="wl-all-days"
              type="checkbox"
              checked={filter.date === ""}
              onChange={(e) => setFilter({ ...filter, date: e.target.checked ? "" : todayUtc() })}
            />{" "}
            Every day
          </label>
        </div>
        <div className="field">
          <label htmlFor="wl-result" className="field__label">
            Result
          </label>
          <select
            id="wl-result"
            value={filter.result}
            onChange={(e) => setFilter({ ...filter, result: e.target.value as WorklistFilter["result"] })}
          >
            {RESULT_FILTERS.map((r) => (
              <option key={r} value={r}>
                {RESULT_WORDS[r]}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="wl-read" className="field__label">
            Read status
          </label>
          <select
            id="wl-read"
            value={filter.read}
            onChange={(e) => setFilter({ ...filter, read: e.target.value as WorklistFilter["read"] })}
          >
            {READ_FILTERS.map((r) => (
              <option key={r} value={r}>
                {READ_WORDS[r]}
              </option>
            ))}
          </select>
        </div>
      </form>
      <p className="results-count" aria-live="polite" data-testid="worklist-status">
        {list
          ? `${list.total} ${list.total === 1 ? "study" : "studies"}; updated ${updated}, refreshes on its own.`
          : ""}
      </p>
      {error != null && <ErrorNotice error={error} onRetry={load} />}
      {list == null && error == null && <Skeleton lines={4} label="Loading the worklist…" />}
      {list != null && (
        <>
          <section aria-labelledby="wl-answered">
            <h2 id="wl-answered">To read</h2>
            {answered.length ? (
              <Table
                items={answered}
                caption="Studies by urgency"
                onRead={onRead}
                busy={busy}
                testId="worklist-table"
              />
            ) : (
              <p className="hint">No studies match.</p>
            )}
          </section>
          {refused.length > 0 && (
            <section aria-labelledby="wl-refused" className="worklist__refused">
              <h2 id="wl-refused">Refused by the model</h2>
              <Table items={refused} caption="Refused images" onRead={onRead} busy={busy} testId="worklist-refused" />
            </section>
          )}
        </>
      )}
      <BatchUpload onDone={load} upload={upload} />
    </>
  );
}
