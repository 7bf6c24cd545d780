/**
 * The API's own types, generated from its OpenAPI document (lib/generated/api.d.ts, `make api-types`),
 * and the compile-time check that ties lib/definitions.ts's zod schemas to them.
 */
import type { z } from "zod";
import type { components, operations } from "./generated/api";

/** Every body the OpenAPI document names: `ApiSchemas["Patient"]`, `ApiSchemas["PatientInput"]`, ... */
export type ApiSchemas = components["schemas"];
export type { components, operations };

/** The named keys of an object type (an index signature, as `z.looseObject` adds, is not a field). */
type Fields<T> = T extends object
  ? keyof { [K in keyof T as string extends K ? never : number extends K ? never : K]: T[K] }
  : never;

/**
 * `true` when the zod schema `S` fits the API's body `Api`; otherwise an object type saying what drifted:
 * - every body the server declares parses (`Api` is assignable to the schema's input), so a field the
 *   server drops, renames, retypes or makes nullable fails `tsc` where the web app requires it;
 * - the schema reads no field the server does not declare, but those listed in `Undeclared` (a field the
 *   server sends without documenting it yet); an entry the server has since declared fails too, so the
 *   list cannot go stale.
 * Schemas may stay lenient (nullish, loose objects): leniency never makes the check pass wrongly.
 */
export type FitsApi<Api, S extends z.ZodType, Undeclared extends PropertyKey = never> = [Api] extends [z.input<S>]
  ? [Exclude<Fields<z.output<S>>, Fields<Api> | Undeclared>] extends [never]
    ? [Extract<Undeclared, Fields<Api>>] extends [never]
      ? true
      : { declared_now_remove_from_undeclared: Extract<Undeclared, Fields<Api>> }
    : { reads_fields_the_api_does_not_declare: Exclude<Fields<z.output<S>>, Fields<Api> | Undeclared> }
  : { api_body_would_not_parse: Api; schema_input: z.input<S> };

/** Use as `type _ = Fits<FitsApi<...>>`: `tsc` fails with FitsApi's explanation unless it is `true`. */
export type Fits<T extends true> = T;

/** The JSON body an operation (named by its operationId) takes, as the API declares it. */
export type RequestBody<Op extends keyof operations> = operations[Op] extends {
  requestBody?: { content: { "application/json": infer Body } };
}
  ? Body
  : never;
