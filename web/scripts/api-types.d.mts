/** Types for scripts/api-types.mjs (the generator that tests/api-types.test.ts checks). */
export declare const DOCUMENT: string;
export declare const TYPES: string;
export declare function apiTypes(document: object): Promise<string>;
