// @vitest-environment node
/** lib/generated/api.d.ts is what openapi-typescript makes of the committed OpenAPI document. */
import { readFileSync } from "node:fs";
import { apiTypes, DOCUMENT, TYPES } from "../scripts/api-types.mjs";

describe("the generated API types", () => {
  it("are current with lib/generated/openapi.json", async () => {
    const expected = await apiTypes(JSON.parse(readFileSync(DOCUMENT, "utf8")));
    expect(
      readFileSync(TYPES, "utf8"),
      "lib/generated/api.d.ts is stale: run `npm run gen:api` (or `make api-types` from the repository root) and commit it",
    ).toBe(expected);
  });

  it("change when the document changes (so the check above can fail)", async () => {
    const document = JSON.parse(readFileSync(DOCUMENT, "utf8"));
    const before = await apiTypes(document);
    document.components.schemas.Patient.properties.ward = { type: "string" };
    const after = await apiTypes(document);
    expect(after).not.toBe(before);
    expect(after).toContain("ward?: string;");
  });
});
