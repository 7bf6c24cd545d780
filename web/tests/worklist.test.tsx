import { act, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";

vi.mock("next/navigation", () => ({
  useRouter: () => ({ replace: vi.fn(), push: vi.fn() }),
  useSearchParams: () => new URLSearchParams(),
  usePathname: () => "/worklist/",
}));

import { WorklistPage } from "@/app/ui/worklist/WorklistPage";
import { uploadBatch, uploadableFiles, urgencyLabel, worklistPath, type BatchFile } from "@/lib/worklist";

function json(status: number, body: unknown) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

function item(id: number, p: number | null, extra: Record<string, unknown> = {}) {
  const threshold = 0.5;
  return {
    id,
    patient_id: id,
    uploaded_at: "2026-11-29T08:00:00Z",
    source: "dicom",
    prediction: p == null ? null : { label: p >= threshold ? "PNEUMONIA" : "NORMAL", probability: p, threshold },
    refusal: p == null ? { reason: "lateral_view", message: "A lateral view; read it without the tool." } : null,
    read_at: null as string | null,
    read_by: null as string | null,
    urgency: p == null ? "refused" : p >= threshold ? "above_threshold" : "below_threshold",
    margin: p == null ? null : p - threshold,
    patient: { id, name: `Child ${id}`, mrn: `MRN-${id}` },
    dicom_send: id === 2 ? { status: "pending", attempts: 2, last_error: "ORTHANC@pacs:4242 is unreachable" } : null,
    ...extra,
  };
}

type Call = { url: string; method: string };

/** A stand-in API: the worklist as the server sorts it; marking as read moves a study last. */
function server(calls: Call[]) {
  let items = [item(2, 0.97), item(5, 0.71), item(3, 0.2), item(4, null)];
  return vi.fn(async (url: string, init: RequestInit = {}) => {
    const method = init.method ?? "GET";
    calls.push({ url, method });
    const read = url.match(/^\/api\/studies\/(\d+)\/read$/);
    if (read && method === "POST") {
      const id = Number(read[1]);
      const done = { ...items.find((it) => it.id === id)!, read_at: "2026-11-29T09:00:00Z", read_by: "dr.who" };
      items = [...items.filter((it) => it.id !== id), done];
      return json(200, done);
    }
    if (url.startsWith("/api/worklist")) {
      const q = new URL(url, "http://x").searchParams;
      const shown = items.filter((it) => q.get("result") !== "refused" || it.urgency === "refused");
      return json(200, { items: shown, total: shown.length, generated_at: "2026-11-29T09:00:00Z" });
    }
    return json(404, { error: { status: 404, code: "not_found", message: `no ${url}` } });
  });
}

afterEach(() => {
  vi.useRealTimers();
});

describe("WorklistPage", () => {
  it("shows the studies in the server's urgency order with refusals in a table of their own", async () => {
    const calls: Call[] = [];
    vi.stubGlobal("fetch", server(calls));
    render(<WorklistPage refreshMs={60_000} />);
    const table = await screen.findByTestId("worklist-table");
    const ids = within(table)
      .getAllByTestId("worklist-row")
      .map((r) => r.getAttribute("data-study-id"));
    expect(ids).toEqual(["2", "5", "3"]);
    const refused = screen.getByTestId("worklist-refused");
    expect(
      within(refused)
        .getAllByTestId("worklist-row")
        .map((r) => r.getAttribute("data-study-id")),
    ).toEqual(["4"]);
    expect(refused).toHaveTextContent("read it without the tool");
    expect(table).toHaveTextContent("Sending to the PACS pending (2 tries: ORTHANC@pacs:4242 is unreachable)");
    expect(calls[0].url).toMatch(/^\/api\/worklist\?date=\d{4}-\d{2}-\d{2}&result=all&read=all$/);
  });

  it("filters by result, read status and day through the query", async () => {
    const calls: Call[] = [];
    vi.stubGlobal("fetch", server(calls));
    const user = userEvent.setup();
    render(<WorklistPage refreshMs={60_000} />);
    await screen.findByTestId("worklist-table");
    await user.selectOptions(screen.getByLabelText("Result"), "refused");
    await waitFor(() => expect(calls.at(-1)!.url).toContain("result=refused"));
    await waitFor(() => expect(screen.queryByTestId("worklist-table")).toBeNull());
    await user.selectOptions(screen.getByLabelText("Read status"), "unread");
    await waitFor(() => expect(calls.at(-1)!.url).toContain("read=unread"));
    await user.click(screen.getByLabelText("Every day"));
    await waitFor(() => expect(calls.at(-1)!.url).toContain("date=all"));
  });

  it("marks a study as read and shows who read it", async () => {
    const calls: Call[] = [];
    vi.stubGlobal("fetch", server(calls));
    const user = userEvent.setup();
    render(<WorklistPage refreshMs={60_000} />);
    await screen.findByTestId("worklist-table");
    await user.click(screen.getByRole("button", { name: "Mark as read: study 2" }));
    expect(calls.some((c) => c.method === "POST" && c.url === "/api/studies/2/read")).toBe(true);
    await waitFor(() => {
      const rows = within(screen.getByTestId("worklist-table")).getAllByTestId("worklist-row");
      expect(rows.map((r) => r.getAttribute("data-study-id"))).toEqual(["5", "3", "2"]);
      expect(rows[2]).toHaveTextContent("Read by dr.who");
    });
  });

  it("refreshes on its own", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    const calls: Call[] = [];
    vi.stubGlobal("fetch", server(calls));
    render(<WorklistPage refreshMs={5_000} />);
    await screen.findByTestId("worklist-table");
    const before = calls.filter((c) => c.url.startsWith("/api/worklist")).length;
    await act(async () => {
      await vi.advanceTimersByTimeAsync(10_500);
    });
    expect(calls.filter((c) => c.url.startsWith("/api/worklist")).length).toBe(before + 2);
    expect(screen.getByTestId("worklist-status")).toHaveTextContent("refreshes on its own");
  });
});

describe("batch upload", () => {
  it("keeps X-ray files (and extensionless DICOM) from a folder and skips the rest", () => {
    const names = ["a.png", "b.JPG", "c.dcm", "IM000001", "notes.txt", ".DS_Store", "DICOMDIR", "d.jpeg"];
    const files = names.map((n) => new File(["x"], n));
    expect(uploadableFiles(files).map((f) => f.name)).toEqual(["a.png", "b.JPG", "c.dcm", "IM000001", "d.jpeg"]);
  });

  it("uploads one file after the other and reports progress and failures per file", async () => {
    const seen: BatchFile[][] = [];
    const files = [new File(["1"], "one.png"), new File(["2"], "two.png"), new File(["3"], "three.png")];
    const upload = vi.fn(async (file: File, onProgress: (f: number) => void) => {
      onProgress(0.5);
      if (file.name === "two.png") throw new Error("The image is a photograph.");
      return { id: files.indexOf(file) + 10 };
    });
    const final = await uploadBatch(files, (s) => seen.push(s), upload as never);
    expect(final.map((f) => [f.status, f.studyId, f.message])).toEqual([
      ["done", 10, null],
      ["failed", null, "The image is a photograph."],
      ["done", 12, null],
    ]);
    // never two at once: while one uploads, the later ones wait
    for (const state of seen) expect(state.filter((f) => f.status === "uploading").length).toBeLessThanOrEqual(1);
    expect(seen.some((s) => s[0].status === "uploading" && s[0].progress === 0.5)).toBe(true);
  });

  it("shows each file's progress on the page and refreshes the worklist afterwards", async () => {
    const calls: Call[] = [];
    vi.stubGlobal("fetch", server(calls));
    const user = userEvent.setup();
    const upload = vi.fn(async (file: File) => ({ id: file.name === "a.png" ? 21 : 22 }));
    render(<WorklistPage refreshMs={60_000} upload={upload as never} />);
    await screen.findByTestId("worklist-table");
    const before = calls.length;
    await user.upload(screen.getByLabelText("X-ray files"), [new File(["a"], "a.png"), new File(["b"], "b.dcm")]);
    await waitFor(() => expect(screen.getByTestId("batch-summary")).toHaveTextContent("2 of 2 stored."));
    expect(screen.getAllByTestId("batch-status").map((s) => s.textContent)).toEqual([
      "Stored study 21",
      "Stored study 22",
    ]);
    await waitFor(() => expect(calls.length).toBeGreaterThan(before));
  });
});

describe("worklist helpers", () => {
  it("builds the query and says the urgency in words", () => {
    expect(worklistPath({ date: "", result: "pneumonia", read: "unread" })).toBe(
      "/api/worklist?date=all&result=pneumonia&read=unread",
    );
    expect(urgencyLabel({ urgency: "above_threshold", margin: 0.234 })).toBe(
      "Pneumonia suspected (23 points above the threshold)",
    );
    expect(urgencyLabel({ urgency: "refused", margin: null })).toBe("Refused: read without the tool");
  });
});
