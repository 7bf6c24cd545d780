"use client";
import { getHealth } from "@/lib/api";
import { useApi } from "@/lib/use-api";

/** One calm line saying whether the server and its model are ready. */
export function ServiceStatus() {
  const health = useApi((signal) => getHealth(signal), []);
  let text: string;
  let tone: "ok" | "warn" | "wait";
  if (health.status === "loading") {
    text = "Checking the PneumoScan server…";
    tone = "wait";
  } else if (health.status === "error") {
    text = "The PneumoScan server is not answering right now, so new examinations cannot be analysed.";
    tone = "warn";
  } else {
    text =
      health.data.status === "ok"
        ? `Ready. Model ${health.data.model_version ?? "(version not reported)"} is loaded.`
        : `The server reports status "${health.data.status}".`;
    tone = health.data.status === "ok" ? "ok" : "warn";
  }
  return (
    <p
      className={`service-status service-status--${tone}`}
      role="status"
      aria-live="polite"
      data-testid="service-status"
    >
      <span className="service-status__dot" aria-hidden="true" />
      {text}
    </p>
  );
}
