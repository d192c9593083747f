// Types of the pyjamaz Node.js binding (index.js).

export interface OptimizeOptions {
  /** Output size budget in bytes; 0 = none. */
  maxBytes?: number | bigint;
  /** Largest perceptual distance (1 - SSIM) allowed; 0 = none. */
  maxDiff?: number;
  metric?: 'ssim' | 'none';
  /** Candidate encoders; omit for all. */
  formats?: Array<'jpeg' | 'png' | 'webp'>;
  /** Threads used across formats; 0 or 1 = sequential. */
  concurrency?: number;
}

export interface OptimizeResult {
  data: Buffer;
  format: 'jpeg' | 'png' | 'webp' | 'gif';
  diffValue: number;
  passed: boolean;
  size: number;
}

export interface AllocStats {
  liveAllocations: number;
  liveBytes: number;
  totalAllocations: number;
  peakBytes: number;
}

export declare const ErrorCode: Readonly<{
  NULL_POINTER: 1;
  EMPTY_INPUT: 2;
  UNKNOWN_FORMAT: 3;
  CORRUPT_INPUT: 4;
  TRUNCATED_INPUT: 5;
  LIMITS_EXCEEDED: 6;
  INVALID_OPTIONS: 7;
  ENCODE: 8;
  INTERNAL: 9;
}>;

export declare class PyjamazError extends Error {
  readonly code: number;
  readonly codeName: keyof typeof ErrorCode | 'UNKNOWN_ERROR';
}
export declare class AbiMismatchError extends Error {
  readonly libPath: string;
  readonly found: number;
  readonly expected: number;
}
export declare class LibraryLoadError extends Error {
  readonly libPath: string;
}
export declare class LibraryNotFoundError extends Error {
  readonly tried: string[];
}

export declare class NativeResult {
  readonly format: OptimizeResult['format'];
  readonly diffValue: number;
  readonly passed: boolean;
  readonly size: number;
  /** Zero-copy view of the native output; throws after close(). */
  readonly data: Buffer;
  readonly closed: boolean;
  close(): void;
}

export declare const ABI_VERSION: 1;
export declare function getVersion(): string;
export declare function libraryPath(): string;
export declare function allocStats(): AllocStats;
/** Leak sites (memtest's attribution mode, MEMTEST_EXPLAIN): `MEMTEST site=` lines of live blocks made at or after allocation number `since`. */
export declare function allocSites(since?: number): string;
export declare function optimize(input: Uint8Array, options?: OptimizeOptions): OptimizeResult;
export declare function optimizeAsync(input: Uint8Array, options?: OptimizeOptions): Promise<OptimizeResult>;
export declare function optimizeNative(input: Uint8Array, options?: OptimizeOptions): NativeResult;
