/*
 * zfreq: word frequencies, a Zig library with a C ABI (src/zfreq.zig).
 * Words are runs of bytes between ASCII whitespace and . , ; : ! ? " ( ) [ ] { } < >
 * Handles are opaque; a handle is not thread-safe, distinct handles are.
 */
#ifndef ZFREQ_H
#define ZFREQ_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ZFREQ_ABI_VERSION 1u

uint32_t zfreq_abi_version(void);

/* A new, empty counter; NULL when memory runs out. */
void *zfreq_new(void);
/* Frees the counter and every word it holds. NULL is a no-op. */
void zfreq_free(void *h);

/* Counts the words of `len` bytes of text; returns how many, or -1 on NULL
 * arguments or out of memory. */
int64_t zfreq_add_text(void *h, const uint8_t *text, size_t len);
/* Occurrences of one word (0 when unknown). */
uint64_t zfreq_count(void *h, const uint8_t *word, size_t len);
uint64_t zfreq_distinct(void *h);
uint64_t zfreq_total(void *h);

/* The top `k` words as "word count\n" lines (most frequent first, ties in
 * byte order), length in *out_len; free with zfreq_text_free(ptr, *out_len). */
uint8_t *zfreq_top_text(void *h, uint32_t k, size_t *out_len);
void zfreq_text_free(uint8_t *text, size_t len);

/* Blocks and bytes the library holds right now (its counting allocator),
 * and every block it ever allocated. Exact: suites report `native_leaks`. */
uint64_t zfreq_live_allocations(void);
uint64_t zfreq_live_bytes(void);
uint64_t zfreq_total_allocations(void);

#ifdef __cplusplus
}
#endif

#endif /* ZFREQ_H */
