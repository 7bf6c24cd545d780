import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError, NETWORK_MESSAGE, errorFromBody, getStudy, listPatients } from "@/lib/api";
import { makeStudy } from "./fixtures";

function respond(status: number, body: unknown, statusText = "") {
  return vi.fn().mockResolvedValue(
    new Response(typeof body === "string" ? body : JSON.stringify(body), {
      status,
      statusText,
      headers: { "Content-Type": "application/json" },
    }),
  );
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("api edge", () => {
  it("reads the error envelope, including a refusal's reason", () => {
    const e = errorFromBody(
      422,
      "",
      JSON.stringify({
        error: { status: 422, code: "not_chest_xray", message: "Looks like a photo.", reason: "photograph" },
      }),
    );
    expect(e).toBeInstanceOf(ApiError);
    expect(e.message).toBe("Looks like a photo.");
    expect(e.isRefusal).toBe(true);
    expect(e.reason).toBe("photograph");
  });

  it("keeps a refusal's detail (the measures behind it), and ignores a detail that is not an object", () => {
    const body = (detail: unknown) =>
      JSON.stringify({
        error: {
          status: 422,
          code: "not_chest_xray",
          message: "Too old.",
          reason: "outside_intended_population",
          detail,
        },
      });
    const e = errorFromBody(422, "", body({ age_years: 40, age_min_years: 1, age_max_years: 5 }));
    expect(e.reason).toBe("outside_intended_population");
    expect(e.detail).toEqual({ age_years: 40, age_min_years: 1, age_max_years: 5 });
    const odd = errorFromBody(422, "", body("score 0.9"));
    expect(odd.message).toBe("Too old.");
    expect(odd.detail).toBeNull();
  });

  it("reads a prediction's operating point", async () => {
    vi.stubGlobal("fetch", respond(200, makeStudy({}, { operating_point: "validation threshold 0.728" })));
    expect((await getStudy(12)).prediction?.operating_point).toBe("validation threshold 0.728");
  });

  it("explains an answer without the envelope", () => {
    const e = errorFromBody(502, "Bad Gateway", "<html>oops</html>");
    expect(e.status).toBe(502);
    expect(e.message).toMatch(/502 Bad Gateway/);
  });

  it("returns a validated study", async () => {
    const fetchMock = respond(200, makeStudy());
    vi.stubGlobal("fetch", fetchMock);
    const s = await getStudy(12);
    expect(s.prediction?.label).toBe("PNEUMONIA");
    expect(fetchMock).toHaveBeenCalledWith("/api/studies/12", expect.anything());
  });

  it("passes the server's 404 message on verbatim", async () => {
    vi.stubGlobal(
      "fetch",
      respond(404, { error: { status: 404, code: "not_found", message: "There is no study 99." } }),
    );
    await expect(getStudy(99)).rejects.toMatchObject({
      status: 404,
      code: "not_found",
      message: "There is no study 99.",
    });
  });

  it("rejects an answer that does not match the contract", async () => {
    vi.stubGlobal("fetch", respond(200, { id: "twelve" }));
    await expect(getStudy(12)).rejects.toMatchObject({ kind: "invalid_response" });
  });

  it("turns a network failure into plain words", async () => {
    vi.stubGlobal("fetch", vi.fn().mockRejectedValue(new TypeError("Failed to fetch")));
    await expect(listPatients({ q: "ada" })).rejects.toMatchObject({ kind: "network", message: NETWORK_MESSAGE });
  });

  it("sends the search query and paging", async () => {
    const fetchMock = respond(200, { items: [], total: 0, page: 2, per_page: 20 });
    vi.stubGlobal("fetch", fetchMock);
    await listPatients({ q: "MRN 7", page: 2 });
    expect(fetchMock.mock.calls[0][0]).toBe("/api/patients?q=MRN+7&page=2&per_page=20");
  });
});
