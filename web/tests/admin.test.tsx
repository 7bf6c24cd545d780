import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";

const replace = vi.fn();
vi.mock("next/navigation", () => ({
  useRouter: () => ({ replace, push: vi.fn() }),
  useSearchParams: () => new URLSearchParams(),
  usePathname: () => "/admin/",
}));

import { AdminPage } from "@/app/ui/admin/AdminPage";

function json(status: number, body: unknown) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

const ADMIN = { id: 1, username: "boss", role: "admin", disabled: false, locked_until: null, created_at: null };
const NURSE = { id: 2, username: "nurse", role: "clinician", disabled: false, locked_until: null, created_at: null };
const AUDIT = {
  items: [
    {
      id: 9,
      at: "2026-11-26T07:00:00Z",
      user_id: 2,
      username: "nurse",
      action: "view",
      object_type: "patient",
      object_id: 4,
      patient_id: 4,
      outcome: "success",
      status: 200,
      client_address: "127.0.0.1",
      detail: null,
    },
  ],
  total: 1,
  page: 1,
  per_page: 50,
};

type Call = { url: string; method: string; headers: Record<string, string>; body: unknown };

function server(me: unknown, calls: Call[]) {
  let users = [ADMIN, NURSE];
  return vi.fn(async (url: string, init: RequestInit = {}) => {
    const method = init.method ?? "GET";
    calls.push({
      url,
      method,
      headers: (init.headers ?? {}) as Record<string, string>,
      body: init.body ? JSON.parse(String(init.body)) : undefined,
    });
    if (url === "/api/auth/me")
      return me
        ? json(200, { user: me })
        : json(401, { error: { status: 401, code: "unauthorized", message: "Sign in first." } });
    if (url === "/api/admin/users" && method === "GET") return json(200, { items: users });
    if (url === "/api/admin/users" && method === "POST")
      return json(201, { user: { ...NURSE, id: 3, username: "newbie" }, password: "Generated-Once-123" });
    if (url === "/api/admin/users/2" && method === "PATCH") {
      users = [ADMIN, { ...NURSE, disabled: true }];
      return json(200, users[1]);
    }
    if (url.startsWith("/api/admin/audit")) return json(200, AUDIT);
    return json(404, { error: { status: 404, code: "not_found", message: "no" } });
  });
}

afterEach(() => {
  vi.unstubAllGlobals();
  replace.mockReset();
  document.cookie = "pneumoscan_csrf=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/";
});

describe("AdminPage", () => {
  it("sends a signed-out visitor to sign in and back", async () => {
    vi.stubGlobal("fetch", server(null, []));
    render(<AdminPage />);
    await waitFor(() => expect(replace).toHaveBeenCalledWith("/login/?next=%2Fadmin%2F"));
  });

  it("tells a clinician that the page is for administrators", async () => {
    vi.stubGlobal("fetch", server(NURSE, []));
    render(<AdminPage />);
    expect(await screen.findByRole("alert")).toHaveTextContent("Administrators only");
  });

  it("lists users and the audit log, creates a user showing the password once, disables with the CSRF header", async () => {
    document.cookie = "pneumoscan_csrf=tok123; path=/";
    const calls: Call[] = [];
    vi.stubGlobal("fetch", server(ADMIN, calls));
    render(<AdminPage />);
    expect(await screen.findByTestId("user-nurse")).toHaveTextContent("active");
    expect(await screen.findByRole("table", { name: "Audit log" })).toHaveTextContent("patient 4");

    await userEvent.type(screen.getByLabelText("New username"), "Newbie");
    await userEvent.click(screen.getByRole("button", { name: "Create user" }));
    expect(await screen.findByTestId("new-password")).toHaveTextContent("Generated-Once-123");
    const post = calls.find((c) => c.method === "POST")!;
    expect(post.body).toEqual({ username: "newbie", role: "clinician" });
    expect(post.headers["X-CSRF-Token"]).toBe("tok123");

    await userEvent.click(screen.getByRole("button", { name: "Disable nurse" }));
    await waitFor(() => expect(screen.getByTestId("user-nurse")).toHaveTextContent("disabled"));
    expect(calls.find((c) => c.method === "PATCH")!.body).toEqual({ disabled: true });
    expect(screen.queryByRole("button", { name: "Disable boss" })).toBeNull(); // not yourself
  });
});
