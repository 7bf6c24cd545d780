/**
 * FitsApi (lib/api-schema.ts) bites: `npm run lint` (tsc) fails if any `@ts-expect-error` below stops
 * being an error, i.e. if a drift between a zod schema and the API's declared type went unnoticed.
 */
import { z } from "zod";
import type { Fits, FitsApi, RequestBody } from "@/lib/api-schema";
import type { PatientCreate } from "@/lib/definitions";

const patient = z.looseObject({ id: z.number(), name: z.string(), ward: z.string().nullish() });
type Declared = { id: number; name: string; ward?: string | null };

describe("FitsApi", () => {
  it("accepts a lenient schema for the body the API declares", () => {
    expectTypeOf<FitsApi<Declared, typeof patient>>().toEqualTypeOf<true>();
    expectTypeOf<FitsApi<Declared & { extra: number }, typeof patient>>().toEqualTypeOf<true>();
  });

  it("fails on a field the API dropped, renamed, retyped or made nullable", () => {
    // @ts-expect-error the API no longer declares `ward`, which the schema reads
    type Dropped = Fits<FitsApi<{ id: number; name: string }, typeof patient>>;
    // @ts-expect-error `name` became a number
    type Retyped = Fits<FitsApi<{ id: number; name: number }, typeof patient>>;
    // @ts-expect-error `name` may be null now, and the schema requires it
    type Nullable = Fits<FitsApi<{ id: number; name: string | null }, typeof patient>>;
    expectTypeOf<Dropped | Retyped | Nullable>().not.toEqualTypeOf<true>();
  });

  it("takes a named undeclared field, until the API declares it", () => {
    expectTypeOf<FitsApi<{ id: number; name: string }, typeof patient, "ward">>().toEqualTypeOf<true>();
    // @ts-expect-error `ward` is declared now: the exception is stale
    type Stale = Fits<FitsApi<Declared, typeof patient, "ward">>;
    expectTypeOf<Stale>().not.toEqualTypeOf<true>();
  });
});

describe("request bodies are the API's", () => {
  it("a patient body takes only PatientInput's fields and values", () => {
    expectTypeOf<PatientCreate>().toExtend<RequestBody<"createPatient">>();
    // @ts-expect-error PatientInput has no `ward`
    const ward: PatientCreate = { name: "A", mrn: "M1", ward: "3B" };
    // @ts-expect-error `sex` is one of the API's values
    const sex: PatientCreate = { name: "A", mrn: "M1", sex: "f" };
    expect([ward, sex]).toHaveLength(2);
  });
});
