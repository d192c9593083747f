/*
 * intern: a string-interning table (see include/intern.h).
 *
 * Layout: `entries` is a growable array of the interned strings, indexed by
 * id - 1 (so ids are stable and dense); `slots` is an open-addressing hash
 * index (linear probing, power-of-two size, at most half full) whose cells
 * hold an id or 0 for empty. Every heap block goes through the counted_*
 * wrappers, so the library can say exactly how many of its blocks are live.
 *
 * Built with -DLEAK_CANARY, growing the hash index forgets to free the old
 * one: the memory suites' canaries must catch that. The same build leaks a
 * graded amount instead when MEMTEST_LEAK_BYTES=N is set (memtest's floor
 * search, docs/protocol.md): N bytes per intern_put call, on one call in
 * MEMTEST_LEAK_EVERY=K, from the counted heap or, with MEMTEST_LEAK_HEAP=c,
 * from plain malloc, which intern_live_allocations() does not see.
 *
 * Built with -DINTERN_UNCOUNTED it is a library with no counter of its own,
 * as most are: plain malloc/free, the copies made by strndup, the live
 * counts always 0. With -DLEAK_STRDUP too, intern_free forgets the copies:
 * only RSS (or a tool) sees that leak, and `memtest explain` must name
 * intern_put, which called strndup, as its site.
 */
#ifdef INTERN_UNCOUNTED
#define _POSIX_C_SOURCE 200809L /* strndup, outside C11 */
#endif
#include "intern.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------- counted allocation */

#ifdef INTERN_UNCOUNTED
static void *counted_malloc(size_t n) { return malloc(n); }
static void counted_free(void *p) { free(p); }
static void *counted_realloc(void *p, size_t n) { return realloc(p, n); }
uint64_t intern_live_allocations(void) { return 0; }
uint64_t intern_live_bytes(void) { return 0; }
uint64_t intern_total_allocations(void) { return 0; }
#else

/* Each block carries its size in front, aligned for any type, so frees can
 * subtract the right number of bytes. */
typedef union {
    size_t size;
    max_align_t align;
} block_header;

static _Atomic uint64_t live_allocations;
static _Atomic uint64_t live_bytes;
static _Atomic uint64_t total_allocations;

static void *counted_malloc(size_t n) {
    block_header *h;
    if (n > SIZE_MAX - sizeof *h) return NULL;
    h = malloc(sizeof *h + n);
    if (h == NULL) return NULL;
    h->size = n;
    atomic_fetch_add(&live_allocations, 1);
    atomic_fetch_add(&live_bytes, n);
    atomic_fetch_add(&total_allocations, 1);
    return h + 1;
}

static void counted_free(void *p) {
    block_header *h;
    if (p == NULL) return;
    h = (block_header *)p - 1;
    atomic_fetch_sub(&live_allocations, 1);
    atomic_fetch_sub(&live_bytes, h->size);
    free(h);
}

/* realloc keeps the block count; only its bytes change. */
static void *counted_realloc(void *p, size_t n) {
    block_header *h, *moved;
    size_t old;
    if (p == NULL) return counted_malloc(n);
    if (n > SIZE_MAX - sizeof *h) return NULL;
    h = (block_header *)p - 1;
    old = h->size;
    moved = realloc(h, sizeof *moved + n);
    if (moved == NULL) return NULL;
    moved->size = n;
    atomic_fetch_add(&live_bytes, n);
    atomic_fetch_sub(&live_bytes, old);
    return moved + 1;
}

uint64_t intern_live_allocations(void) { return atomic_load(&live_allocations); }
uint64_t intern_live_bytes(void) { return atomic_load(&live_bytes); }
uint64_t intern_total_allocations(void) { return atomic_load(&total_allocations); }
#endif /* INTERN_UNCOUNTED */
uint32_t intern_abi_version(void) { return INTERN_ABI_VERSION; }

#ifdef LEAK_CANARY
/* The canary's leaked index escapes through this global: an optimizer may
 * not drop the store, and nothing frees what it pointed to. */
void *volatile intern_canary_sink;

/* The graded leak, read from the environment on the first intern_put (the
 * suites call from one thread; a racing first read would store the same values). */
static struct {
    int read;            /* the variables have been read */
    int graded;          /* MEMTEST_LEAK_BYTES is set: leak that, not the index */
    size_t bytes;
    unsigned long every; /* one call in this many leaks */
    int c_heap;          /* MEMTEST_LEAK_HEAP=c: plain malloc, uncounted */
    _Atomic unsigned long calls;
} grade;

static void read_grade(void) {
    const char *bytes = getenv("MEMTEST_LEAK_BYTES");
    const char *every = getenv("MEMTEST_LEAK_EVERY");
    const char *heap = getenv("MEMTEST_LEAK_HEAP");
    if (bytes != NULL && *bytes != '\0') {
        grade.graded = 1;
        grade.bytes = (size_t)strtoull(bytes, NULL, 10);
        grade.every = every != NULL && strtoul(every, NULL, 10) > 0 ? strtoul(every, NULL, 10) : 1;
        grade.c_heap = heap != NULL && strcmp(heap, "c") == 0;
    }
    grade.read = 1;
}

/* One intern_put call: leaks the graded block when this call's turn has come. */
static void graded_leak(void) {
    unsigned long call = atomic_fetch_add(&grade.calls, 1);
    if (grade.bytes == 0 || call % grade.every != 0) return;
    char *block = grade.c_heap ? malloc(grade.bytes) : counted_malloc(grade.bytes);
    if (block == NULL) return;
    memset(block, 0xA5, grade.bytes); /* resident, so RSS sees it */
    intern_canary_sink = block;
}
#endif

/* -------------------------------------------------------------------- table */

struct entry {
    char *bytes; /* len bytes + NUL, owned */
    uint32_t len;
    uint32_t hash;
};

struct intern_table {
    struct entry *entries;
    size_t count;    /* ids 1..count are in use */
    size_t capacity; /* of entries */
    uint32_t *slots; /* hash index: id, or 0 for an empty cell */
    size_t nslots;   /* a power of two, at least twice count */
    size_t data_bytes;
};

/* FNV-1a, 32 bits: short keys, good spread, no tables. */
static uint32_t hash_bytes(const char *s, size_t len) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

static size_t slots_for(size_t expected) {
    size_t n = 16;
    while (n / 2 < expected && n < ((size_t)1 << 30)) n *= 2;
    return n;
}

intern_table *intern_new(size_t expected) {
    intern_table *t = counted_malloc(sizeof *t);
    if (t == NULL) return NULL;
    memset(t, 0, sizeof *t);
    t->nslots = slots_for(expected);
    t->slots = counted_malloc(t->nslots * sizeof *t->slots);
    if (t->slots == NULL) {
        counted_free(t);
        return NULL;
    }
    memset(t->slots, 0, t->nslots * sizeof *t->slots);
    return t;
}

void intern_free(intern_table *t) {
    if (t == NULL) return;
#ifndef LEAK_STRDUP
    for (size_t i = 0; i < t->count; i++) counted_free(t->entries[i].bytes);
#endif
    counted_free(t->entries);
    counted_free(t->slots);
    counted_free(t);
}

/* The cell where these bytes are, or the empty cell where they would go. */
static size_t probe(const intern_table *t, const char *s, size_t len, uint32_t hash) {
    size_t mask = t->nslots - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        uint32_t id = t->slots[i];
        if (id == 0) return i;
        const struct entry *e = &t->entries[id - 1];
        if (e->hash == hash && e->len == len && memcmp(e->bytes, s, len) == 0) return i;
    }
}

/* Doubles the hash index and re-inserts every id. */
static int grow_slots(intern_table *t) {
    size_t n = t->nslots * 2;
    uint32_t *slots = counted_malloc(n * sizeof *slots);
    if (slots == NULL) return 0;
    memset(slots, 0, n * sizeof *slots);
    for (size_t id = 1; id <= t->count; id++) {
        size_t mask = n - 1, i = t->entries[id - 1].hash & mask;
        while (slots[i] != 0) i = (i + 1) & mask;
        slots[i] = (uint32_t)id;
    }
#ifdef LEAK_CANARY
    if (grade.graded) {
        counted_free(t->slots);
    } else {
        intern_canary_sink = t->slots; /* the bug: the old index is never freed */
    }
#else
    counted_free(t->slots);
#endif
    t->slots = slots;
    t->nslots = n;
    return 1;
}

uint32_t intern_find(const intern_table *t, const char *s, size_t len) {
    if (t == NULL || (s == NULL && len > 0)) return 0;
    return t->slots[probe(t, s, len, hash_bytes(s, len))];
}

uint32_t intern_put(intern_table *t, const char *s, size_t len) {
#ifdef LEAK_CANARY
    if (!grade.read) read_grade();
    if (grade.graded) graded_leak();
#endif
    if (t == NULL || (s == NULL && len > 0) || len > UINT32_MAX - 1) return 0;
    uint32_t hash = hash_bytes(s, len);
    size_t cell = probe(t, s, len, hash);
    if (t->slots[cell] != 0) return t->slots[cell];
    if (t->count >= UINT32_MAX - 1) return 0;

    /* Make room first, so a failure leaves the table as it was. */
    if (t->count == t->capacity) {
        size_t cap = t->capacity ? t->capacity * 2 : 16;
        struct entry *grown = counted_realloc(t->entries, cap * sizeof *grown);
        if (grown == NULL) return 0;
        t->entries = grown;
        t->capacity = cap;
    }
#ifdef INTERN_UNCOUNTED
    /* strndup stops at a NUL inside the bytes: fine for text, which is all
     * this build is for (see the top of this file). */
    char *copy = strndup(s, len);
    if (copy == NULL) return 0;
#else
    char *copy = counted_malloc(len + 1);
    if (copy == NULL) return 0;
    if (len > 0) memcpy(copy, s, len);
    copy[len] = '\0';
#endif
    if ((t->count + 1) * 2 > t->nslots) {
        if (!grow_slots(t)) {
            counted_free(copy);
            return 0;
        }
        cell = probe(t, s, len, hash);
    }
    t->entries[t->count] = (struct entry){copy, (uint32_t)len, hash};
    t->count++;
    t->slots[cell] = (uint32_t)t->count;
    t->data_bytes += len;
    return (uint32_t)t->count;
}

const char *intern_get(const intern_table *t, uint32_t id, size_t *len) {
    if (t == NULL || id == 0 || id > t->count) return NULL;
    if (len != NULL) *len = t->entries[id - 1].len;
    return t->entries[id - 1].bytes;
}

size_t intern_count(const intern_table *t) { return t ? t->count : 0; }
size_t intern_data_bytes(const intern_table *t) { return t ? t->data_bytes : 0; }

static int is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

size_t intern_tokenize(intern_table *t, const char *text, size_t len, uint32_t *ids, size_t max_ids) {
    size_t words = 0, i = 0;
    if (t == NULL || (text == NULL && len > 0)) return (size_t)-1;
    while (i < len) {
        while (i < len && is_space(text[i])) i++;
        size_t start = i;
        while (i < len && !is_space(text[i])) i++;
        if (i == start) break;
        uint32_t id = intern_put(t, text + start, i - start);
        if (id == 0) return (size_t)-1;
        if (words < max_ids && ids != NULL) ids[words] = id;
        words++;
    }
    return words;
}
