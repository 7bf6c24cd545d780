"use client";
import { useCallback, useEffect, useState } from "react";
import { errorMessage } from "@/lib/api";
import { createUser, listUsers, resetPassword, setDisabled, unlockUser } from "@/lib/admin-api";
import { ROLES, type Role, type User } from "@/lib/definitions";
import { ErrorNotice } from "../common/ErrorNotice";
import { Skeleton } from "../common/Skeleton";

/** The user list with its actions, and the form that creates a user (the generated password is shown once). */
export function UsersPanel({ me }: { me: User }) {
  const [users, setUsers] = useState<User[] | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [message, setMessage] = useState<{ text: string; secret?: string } | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [username, setUsername] = useState("");
  const [role, setRole] = useState<Role>("clinician");
  const [busy, setBusy] = useState(false);

  const load = useCallback(() => {
    listUsers().then(
      (items) => {
        setUsers(items);
        setLoadError(null);
      },
      (e: unknown) => setLoadError(e),
    );
  }, []);
  useEffect(load, [load]);

  async function act(what: () => Promise<{ text: string; secret?: string }>) {
    if (busy) return;
    setBusy(true);
    setFailure(null);
    setMessage(null);
    try {
      setMessage(await what());
      load();
    } catch (e) {
      setFailure(errorMessage(e));
    } finally {
      setBusy(false);
    }
  }

  function onCreate(e: React.FormEvent) {
    e.preventDefault();
    const name = username.trim().toLowerCase();
    if (!name) {
      setFailure("Enter a username for the new account.");
      return;
    }
    void act(async () => {
      const created = await createUser(name, role);
      setUsername("");
      return { text: `Created ${created.user.role} ${created.user.username}.`, secret: created.password ?? undefined };
    });
  }

  return (
    <section className="card" aria-labelledby="users-title">
      <h2 id="users-title">Users</h2>
      <form className="admin__create" onSubmit={onCreate} noValidate>
        <div className="field">
          <label htmlFor="new-username" className="field__label">
            New username
          </label>
          <input
            id="new-username"
            type="text"
            autoCapitalize="none"
            spellCheck={false}
            value={username}
            onChange={(e) => setUsername(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor="new-role" className="field__label">
            Role
          </label>
          <select id="new-role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" className="button" aria-disabled={busy || undefined}>
          Create user
        </button>
      </form>
      <div aria-live="polite">
        {message && (
          <div className="notice" role="status" data-testid="admin-message">
            <p>{message.text}</p>
            {message.secret && (
              <p>
                Password (shown only now; give it to the user in person):{" "}
                <code data-testid="new-password">{message.secret}</code>
              </p>
            )}
          </div>
        )}
      </div>
      {failure && (
        <div className="notice notice--error" role="alert" data-testid="admin-error">
          <p className="notice__message">{failure}</p>
        </div>
      )}
      {loadError != null && <ErrorNotice error={loadError} onRetry={load} />}
      {users === null && loadError == null && <Skeleton lines={3} label="Loading users…" />}
      {users && (
        <div className="table-wrap">
          <table className="table" aria-label="Users">
            <thead>
              <tr>
                <th scope="col">Username</th>
                <th scope="col">Role</th>
                <th scope="col">Status</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {users.map((u) => {
                const status = u.disabled ? "disabled" : u.locked_until ? "locked" : "active";
                return (
                  <tr key={u.id} data-testid={`user-${u.username}`}>
                    <td>{u.username}</td>
                    <td>{u.role}</td>
                    <td>{status}</td>
                    <td className="admin__actions">
                      {u.id !== me.id && (
                        <button
                          type="button"
                          className="button button--secondary"
                          aria-label={`${u.disabled ? "Enable" : "Disable"} ${u.username}`}
                          onClick={() =>
                            void act(async () => {
                              await setDisabled(u.id, !u.disabled);
                              return { text: `${u.username} is now ${u.disabled ? "enabled" : "disabled"}.` };
                            })
                          }
                        >
                          {u.disabled ? "Enable" : "Disable"}
                        </button>
                      )}
                      <button
                        type="button"
                        className="button button--secondary"
                        aria-label={`Reset password of ${u.username}`}
                        onClick={() =>
                          void act(async () => {
                            const r = await resetPassword(u.id);
                            return { text: `New password for ${u.username}.`, secret: r.password ?? undefined };
                          })
                        }
                      >
                        Reset password
                      </button>
                      {u.locked_until && (
                        <button
                          type="button"
                          className="button button--secondary"
                          aria-label={`Unlock ${u.username}`}
                          onClick={() =>
                            void act(async () => {
                              await unlockUser(u.id);
                              return { text: `${u.username} is unlocked.` };
                            })
                          }
                        >
                          Unlock
                        </button>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
