/*
 * pyjamaz.h - C ABI of the Pyjamaz image optimizer.
 *
 * Ownership: every PyjamazResult returned by pyjamaz_optimize is owned by the
 * caller and must be released with pyjamaz_free_result exactly once; that frees
 * its output bytes and its error message too. Strings returned by
 * pyjamaz_version and the `format` field of a result are static: never free them.
 *
 * A test in core/tests/c_header.rs compiles a C program against this header and
 * the built library, so the header and the Rust ABI cannot drift apart.
 */
#ifndef PYJAMAZ_H
#define PYJAMAZ_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever a struct layout or a function signature below changes. */
#define PYJAMAZ_ABI_VERSION 1

/* Error codes: the `error_code` of a result. Stable across releases. */
#define PYJAMAZ_OK 0
#define PYJAMAZ_ERR_NULL_POINTER 1     /* options or input pointer was NULL */
#define PYJAMAZ_ERR_EMPTY_INPUT 2      /* input_len was 0 */
#define PYJAMAZ_ERR_UNKNOWN_FORMAT 3   /* magic bytes match no supported format */
#define PYJAMAZ_ERR_CORRUPT_INPUT 4    /* known format, but the data does not decode */
#define PYJAMAZ_ERR_TRUNCATED_INPUT 5  /* known format, but the data ends early */
#define PYJAMAZ_ERR_LIMITS_EXCEEDED 6  /* dimensions or decode allocation over the limits (e.g. a decompression bomb) */
#define PYJAMAZ_ERR_INVALID_OPTIONS 7  /* unknown metric or format name, negative max_diff, ... */
#define PYJAMAZ_ERR_ENCODE 8           /* an encoder failed */
#define PYJAMAZ_ERR_INTERNAL 9         /* a panic was caught at the ABI boundary */

typedef struct PyjamazOptions {
    const uint8_t *input;   /* the image bytes; must not be NULL */
    size_t input_len;       /* must be > 0 */
    uint64_t max_bytes;     /* size budget of the output; 0 = no budget */
    double max_diff;        /* largest perceptual distance allowed; 0 = no limit */
    const char *metric;     /* "ssim" (diff = 1 - SSIM) or "none"; NULL = "ssim" */
    const char *formats;    /* comma list of "jpeg", "png", "webp"; NULL or "" = all */
    uint32_t concurrency;   /* threads used across formats; 0 or 1 = sequential */
} PyjamazOptions;

typedef struct PyjamazResult {
    uint8_t *output;        /* the chosen bytes; NULL on error */
    size_t output_len;
    const char *format;     /* static: "jpeg", "png", "webp", "gif"; NULL on error */
    double diff_value;      /* distance of the chosen candidate from the original */
    int32_t passed;         /* 1 when the chosen candidate meets max_bytes and max_diff */
    int32_t error_code;     /* PYJAMAZ_OK or one of PYJAMAZ_ERR_* */
    char *error_message;    /* NUL-terminated, NULL when error_code == PYJAMAZ_OK */
} PyjamazResult;

typedef struct PyjamazAllocStats {
    uint64_t live_allocations;  /* allocations of the library's heap not yet freed */
    uint64_t live_bytes;        /* bytes of those allocations */
    uint64_t total_allocations; /* allocations since load */
    uint64_t peak_bytes;        /* highest live_bytes since load */
} PyjamazAllocStats;

/* Library version, e.g. "0.1.0". Static string. */
const char *pyjamaz_version(void);

/* Equals PYJAMAZ_ABI_VERSION of the header the library was built with. */
uint32_t pyjamaz_abi_version(void);

/* Optimizes an image. Never returns NULL; errors come back in the result. */
PyjamazResult *pyjamaz_optimize(const PyjamazOptions *options);

/* Frees a result and everything it owns. NULL is a no-op. */
void pyjamaz_free_result(PyjamazResult *result);

/* Writes the library's own heap accounting into *out. Returns PYJAMAZ_OK, or
 * PYJAMAZ_ERR_NULL_POINTER when out is NULL. */
int32_t pyjamaz_alloc_stats(PyjamazAllocStats *out);

/* Leak sites (memtest's attribution mode): the library's live heap blocks
 * allocated at or after allocation number `since` (a baseline's
 * total_allocations; 0 for all), grouped by allocating stack, largest first,
 * as "MEMTEST site={json}" lines, NUL-terminated in buf (at most cap bytes
 * with the NUL). Returns the whole text's length without the NUL: call again
 * with a larger buffer when it is cap or more (buf NULL, cap 0 asks for the
 * length). Empty unless the library was loaded with MEMTEST_EXPLAIN set. */
size_t pyjamaz_alloc_sites(uint64_t since, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* PYJAMAZ_H */
