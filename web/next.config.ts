import type { NextConfig } from "next";
import { PHASE_DEVELOPMENT_SERVER } from "next/constants";

/**
 * Production (`next build`): a static export in `out/` that the Flask server serves at `/`
 * (web/out/<route>/index.html), with the API on the same origin under `/api`.
 *
 * Development (`npm run dev`): no export, and `/api/*` is proxied to the Flask server
 * (http://127.0.0.1:8000 unless PNEUMOSCAN_API_URL says otherwise). Rewrites do not work
 * in export mode, so they are only set in the development phase.
 */
const API_ORIGIN = process.env.PNEUMOSCAN_API_URL ?? "http://127.0.0.1:8000";

export default function config(phase: string): NextConfig {
  const base: NextConfig = {
    trailingSlash: true,
    images: { unoptimized: true },
    reactStrictMode: true,
    poweredByHeader: false,
  };
  if (phase === PHASE_DEVELOPMENT_SERVER) {
    return {
      ...base,
      // Flask's routes have no trailing slash: do not redirect /api/x -> /api/x/.
      skipTrailingSlashRedirect: true,
      // Let the dev server's scripts load when the app is opened as 127.0.0.1 as well as localhost.
      allowedDevOrigins: ["127.0.0.1", "localhost"],
      async rewrites() {
        return [{ source: "/api/:path*", destination: `${API_ORIGIN}/api/:path*` }];
      },
    };
  }
  return { ...base, output: "export" };
}
