// Committed stand-in for the generated (and git-ignored) next-env.d.ts, so that
// `npm run lint` (tsc --noEmit) works on a fresh clone before any `next build`.
/// <reference types="next" />
/// <reference types="next/image-types/global" />
