/**
 * Fetchers for the administration endpoints (docs/api.md, "Accounts and access control"):
 * users and the audit log. Same conventions as lib/api.ts: the session cookie goes along,
 * state-changing requests carry the X-CSRF-Token header, failures become ApiErrors with the
 * server's own message.
 */
import { z } from "./zod";
import { ApiError, request } from "./api";

export const adminUserSchema = z.looseObject({
  id: z.number().int(),
  username: z.string(),
  role: z.string(),
  disabled: z.boolean().nullish(),
  locked_until: z.string().nullish(),
  created_at: z.string().nullish(),
});
export type AdminUser = z.infer<typeof adminUserSchema>;

export const auditEntrySchema = z.looseObject({
  id: z.number().int(),
  at: z.string(),
  user_id: z.number().int().nullish(),
  username: z.string().nullish(),
  action: z.string(),
  object_type: z.string().nullish(),
  object_id: z.number().int().nullish(),
  patient_id: z.number().int().nullish(),
  outcome: z.string(),
  status: z.number().int().nullish(),
  client_address: z.string().nullish(),
  detail: z.string().nullish(),
});
export type AuditEntry = z.infer<typeof auditEntrySchema>;

const usersSchema = z.looseObject({ items: z.array(adminUserSchema) });
const userWithPasswordSchema = z.looseObject({ user: adminUserSchema, password: z.string().nullish() });
const auditPageSchema = z.looseObject({
  items: z.array(auditEntrySchema),
  total: z.number().int(),
  page: z.number().int(),
  per_page: z.number().int(),
});
export type AuditPage = z.infer<typeof auditPageSchema>;

/** A JSON call through lib/api.ts's ``request`` (same cookie, CSRF and error handling). */
function call<S extends z.ZodType>(
  path: string,
  schema: S,
  init: { method?: string; body?: unknown; signal?: AbortSignal } = {},
): Promise<z.infer<S>> {
  return request(path, schema, "the administration request", {
    method: init.method ?? "GET",
    headers: init.body === undefined ? undefined : { "Content-Type": "application/json" },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: init.signal,
  });
}

export function listUsers(signal?: AbortSignal): Promise<AdminUser[]> {
  return call("/api/admin/users", usersSchema, { signal }).then((r) => r.items);
}

export function createUser(username: string, role: string, password?: string) {
  return call("/api/admin/users", userWithPasswordSchema, {
    method: "POST",
    body: password ? { username, role, password } : { username, role },
  });
}

export function setDisabled(id: number, disabled: boolean): Promise<AdminUser> {
  return call(`/api/admin/users/${id}`, adminUserSchema, { method: "PATCH", body: { disabled } });
}

export function resetPassword(id: number) {
  return call(`/api/admin/users/${id}/reset-password`, userWithPasswordSchema, { method: "POST" });
}

export function unlockUser(id: number): Promise<AdminUser> {
  return call(`/api/admin/users/${id}/unlock`, adminUserSchema, { method: "POST" });
}

export interface AuditFilter {
  user?: string;
  patientId?: string;
  since?: string;
  until?: string;
  page?: number;
}

export function getAudit(filter: AuditFilter, signal?: AbortSignal): Promise<AuditPage> {
  const q = new URLSearchParams();
  if (filter.user) q.set("user", filter.user);
  if (filter.patientId) q.set("patient_id", filter.patientId);
  if (filter.since) q.set("since", filter.since);
  if (filter.until) q.set("until", filter.until);
  q.set("page", String(filter.page ?? 1));
  q.set("per_page", "50");
  return call(`/api/admin/audit?${q.toString()}`, auditPageSchema, { signal });
}

/** GET /api/auth/me without side effects: the role, or null when nobody is signed in. */
export async function whoAmI(signal?: AbortSignal): Promise<AdminUser | null> {
  try {
    const me = await call("/api/auth/me", z.looseObject({ user: adminUserSchema }), { signal });
    return me.user;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return null;
    throw e;
  }
}
