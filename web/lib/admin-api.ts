/**
 * Fetchers for the administration endpoints (docs/api.md, "Accounts and access control"):
 * users and the audit log, through lib/api.ts's ``request`` (session cookie, CSRF header,
 * ApiErrors with the server's own message) and lib/definitions.ts's schemas.
 */
import { getMe, isUnauthorized, jsonInit, request } from "./api";
import type { RequestBody } from "./api-schema";
import {
  auditPageSchema,
  userListSchema,
  userSchema,
  userWithPasswordSchema,
  type AuditPage,
  type Role,
  type User,
  type UserWithPassword,
} from "./definitions";

const WHAT = "the administration request";

export function listUsers(signal?: AbortSignal): Promise<User[]> {
  return request("/api/admin/users", userListSchema, WHAT, { signal }).then((r) => r.items);
}

export function createUser(username: string, role: Role, password?: string): Promise<UserWithPassword> {
  const body: RequestBody<"createUser"> = password ? { username, role, password } : { username, role };
  return request("/api/admin/users", userWithPasswordSchema, WHAT, jsonInit("POST", body));
}

export function setDisabled(id: number, disabled: boolean): Promise<User> {
  return request(
    `/api/admin/users/${id}`,
    userSchema,
    WHAT,
    jsonInit("PATCH", { disabled } satisfies RequestBody<"updateUser">),
  );
}

export function resetPassword(id: number): Promise<UserWithPassword> {
  return request(`/api/admin/users/${id}/reset-password`, userWithPasswordSchema, WHAT, jsonInit("POST"));
}

export function unlockUser(id: number): Promise<User> {
  return request(`/api/admin/users/${id}/unlock`, userSchema, WHAT, jsonInit("POST"));
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
  return request(`/api/admin/audit?${q.toString()}`, auditPageSchema, WHAT, { signal });
}

/** The signed-in user (GET /api/auth/me), or null when nobody is signed in. */
export async function whoAmI(signal?: AbortSignal): Promise<User | null> {
  try {
    return (await getMe(signal)).user;
  } catch (e) {
    if (isUnauthorized(e)) return null;
    throw e;
  }
}
