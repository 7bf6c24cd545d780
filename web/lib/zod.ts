/**
 * zod, configured once for the whole app. `jitless`: zod never probes `Function("")` to see whether
 * it may compile validators, a probe the server's Content-Security-Policy (no 'unsafe-eval') refuses
 * and reports as a violation. Import `z` from here, not from "zod".
 */
import { z } from "zod";

z.config({ jitless: true });

export { z };
