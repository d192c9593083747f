/*
 * intern: a string-interning table. Each distinct byte string gets one
 * small, stable id (1, 2, 3, ...); interning the same bytes again returns the
 * same id, and the id gives the stored bytes back. Compilers, tokenizers and
 * log pipelines use this to compare and store words as integers.
 *
 * C ABI: plain functions and an opaque handle; sizes are size_t, ids are
 * uint32_t (0 means "none" or "error"). Not thread-safe per table; distinct
 * tables may be used from distinct threads. The allocation counters are
 * process-wide and atomic.
 */
#ifndef INTERN_H
#define INTERN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define INTERN_ABI_VERSION 1u

typedef struct intern_table intern_table;

/* The ABI version this library was built with (INTERN_ABI_VERSION). */
uint32_t intern_abi_version(void);

/* A new, empty table sized for about `expected` strings (0: a small default).
 * NULL when memory runs out. */
intern_table *intern_new(size_t expected);

/* Frees the table and every string it holds. NULL is a no-op. */
void intern_free(intern_table *t);

/* The id of `len` bytes at `s` (any bytes, NUL included), interning a copy
 * of them first if they are new. 0 on NULL arguments or when memory runs out
 * (the table is unchanged then). */
uint32_t intern_put(intern_table *t, const char *s, size_t len);

/* The id of these bytes if interned, else 0. Never allocates. */
uint32_t intern_find(const intern_table *t, const char *s, size_t len);

/* The stored bytes of `id` (NUL-terminated, for convenience) and their
 * length in *len (when len is not NULL); NULL for an unknown id. Valid until
 * intern_free. */
const char *intern_get(const intern_table *t, uint32_t id, size_t *len);

/* Distinct strings held, and the bytes of string data they hold. */
size_t intern_count(const intern_table *t);
size_t intern_data_bytes(const intern_table *t);

/* Splits `text` on ASCII whitespace and interns each word, writing up to
 * `max_ids` ids to `ids` (may be NULL with max_ids 0). Returns the number of
 * words found (which may exceed max_ids), or (size_t)-1 when memory ran out. */
size_t intern_tokenize(intern_table *t, const char *text, size_t len, uint32_t *ids, size_t max_ids);

/* Heap blocks this library has allocated and not yet freed, process-wide,
 * and their bytes; and every block ever allocated. Exact: memory suites
 * report the first as `native_leaks`. */
uint64_t intern_live_allocations(void);
uint64_t intern_live_bytes(void);
uint64_t intern_total_allocations(void);

#ifdef __cplusplus
}
#endif

#endif /* INTERN_H */
