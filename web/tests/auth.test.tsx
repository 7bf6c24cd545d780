import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

const replace = vi.fn();
let search = new URLSearchParams("next=%2Fstudy%2F%3Fid%3D3");
vi.mock("next/navigation", () => ({
  useRouter: () => ({ replace, push: vi.fn() }),
  useSearchParams: () => search,
  usePathname: () => "/login/",
}));

import { AuthProvider, safeNext } from "@/app/ui/auth/AuthProvider";
import { LoginForm } from "@/app/ui/auth/LoginForm";
import { RequireSignIn } from "@/app/ui/auth/RequireSignIn";
import { createPatient, csrfToken, rememberCsrfToken } from "@/lib/api";

function json(status: number, body: unknown) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

const USER = { id: 1, username: "dr.ada", role: "clinician", disabled: false, locked_until: null, created_at: null };

beforeEach(() => {
  replace.mockReset();
  search = new URLSearchParams("next=%2Fstudy%2F%3Fid%3D3");
});

afterEach(() => {
  vi.unstubAllGlobals();
  rememberCsrfToken(null);
  document.cookie = "pneumoscan_csrf=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/";
});

describe("safeNext", () => {
  it("keeps same-site paths only", () => {
    expect(safeNext("/study/?id=3")).toBe("/study/?id=3");
    for (const bad of [null, "", "https://evil.example/", "//evil.example", "/\\evil", "/login/?next=/", "study"])
      expect(safeNext(bad)).toBe("/");
  });
});

describe("LoginForm", () => {
  it("asks for both fields", async () => {
    vi.stubGlobal(
      "fetch",
      vi.fn().mockResolvedValue(json(401, { error: { status: 401, code: "unauthorized", message: "Sign in first." } })),
    );
    const user = userEvent.setup();
    render(
      <AuthProvider>
        <LoginForm />
      </AuthProvider>,
    );
    await user.click(screen.getByRole("button", { name: "Sign in" }));
    expect(screen.getByText("Enter your username.")).toBeInTheDocument();
    expect(screen.getByText("Enter your password.")).toBeInTheDocument();
    expect(screen.getByLabelText("Username")).toHaveFocus();
  });

  it("shows the server's refusal verbatim and clears the password", async () => {
    const fetchMock = vi.fn(async (url: string) =>
      url.endsWith("/api/auth/login")
        ? json(401, {
            error: { status: 401, code: "invalid_credentials", message: "The username or password is wrong." },
          })
        : json(401, { error: { status: 401, code: "unauthorized", message: "Sign in first." } }),
    );
    vi.stubGlobal("fetch", fetchMock);
    const user = userEvent.setup();
    render(
      <AuthProvider>
        <LoginForm />
      </AuthProvider>,
    );
    await user.type(screen.getByLabelText("Username"), "dr.ada");
    await user.type(screen.getByLabelText("Password"), "not-the-password");
    await user.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByTestId("login-error")).toHaveTextContent("The username or password is wrong.");
    expect(screen.getByLabelText("Password")).toHaveValue("");
    expect(replace).not.toHaveBeenCalled();
  });

  it("signs in and goes back to the page that asked", async () => {
    let signedIn = false;
    const fetchMock = vi.fn(async (url: string, init?: RequestInit) => {
      if (url.endsWith("/api/auth/login")) {
        expect(JSON.parse(String(init?.body))).toEqual({ username: "dr.ada", password: "correct horse battery" });
        signedIn = true;
        return json(200, { user: USER, csrf_token: "tok-123", expires_at: null });
      }
      return signedIn
        ? json(200, { user: USER, via: "session", csrf_token: "tok-123" })
        : json(401, { error: { status: 401, code: "unauthorized", message: "Sign in first." } });
    });
    vi.stubGlobal("fetch", fetchMock);
    const user = userEvent.setup();
    render(
      <AuthProvider>
        <LoginForm />
      </AuthProvider>,
    );
    await user.type(screen.getByLabelText("Username"), "  dr.ada ");
    await user.type(screen.getByLabelText("Password"), "correct horse battery");
    await user.click(screen.getByRole("button", { name: "Sign in" }));
    await waitFor(() => expect(replace).toHaveBeenCalledWith("/study/?id=3"));
    expect(csrfToken()).toBe("tok-123");
  });
});

describe("CSRF", () => {
  it("echoes the CSRF cookie on state-changing requests, not on reads", async () => {
    document.cookie = "pneumoscan_csrf=from-cookie; path=/";
    const fetchMock = vi
      .fn()
      .mockResolvedValue(
        json(201, { id: 1, name: "A", mrn: "M", sex: null, birth_date: null, age_years: 3, created_at: null }),
      );
    vi.stubGlobal("fetch", fetchMock);
    await createPatient({ name: "A", mrn: "M", age_years: 3 });
    expect(fetchMock.mock.calls[0][1].headers["X-CSRF-Token"]).toBe("from-cookie");
    expect(fetchMock.mock.calls[0][1].credentials).toBe("same-origin");
  });
});

describe("RequireSignIn", () => {
  it("sends a signed-out visitor to sign in, without showing the page", async () => {
    const fetchMock = vi.fn();
    vi.stubGlobal("fetch", fetchMock);
    render(
      <AuthProvider>
        <RequireSignIn>
          <p>Patient records</p>
        </RequireSignIn>
      </AuthProvider>,
    );
    await waitFor(() => expect(replace).toHaveBeenCalledWith("/login/?next=%2F"));
    expect(screen.queryByText("Patient records")).not.toBeInTheDocument();
    expect(screen.getByRole("heading", { name: "Please sign in" })).toBeInTheDocument();
    // No session cookie: nobody asked the server.
    expect(fetchMock).not.toHaveBeenCalled();
  });

  it("shows the page to a signed-in clinician", async () => {
    document.cookie = "pneumoscan_csrf=tok; path=/";
    vi.stubGlobal("fetch", vi.fn().mockResolvedValue(json(200, { user: USER, via: "session", csrf_token: "tok" })));
    render(
      <AuthProvider>
        <RequireSignIn>
          <p>Patient records</p>
        </RequireSignIn>
      </AuthProvider>,
    );
    expect(await screen.findByText("Patient records")).toBeInTheDocument();
    expect(replace).not.toHaveBeenCalled();
  });
});
