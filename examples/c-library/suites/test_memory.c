/*
 * test_memory: the C memory suite of the intern library. Builds a table from
 * a few thousand generated words per round, checks every id round-trips
 * (get, find, re-put), frees it, and checks after every round that the
 * library's live allocations are back at baseline: exact, one leaked block
 * fails. Its RSS growth is reported too, but the runner judges RSS growth
 * and slope from its own samples against memtest.toml's limits.
 *
 * Canary: the same program linked against the LEAK_CANARY build (the hash
 * index is never freed when it grows) must fail on native_leaks and RSS.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "intern.h"
#include "memtest.h"

#define WORDS_PER_ROUND 4000
#define VOCABULARY 2500 /* distinct words a round can draw from */
#define CHECKPOINTS 20

static uint64_t rng_state;

static uint32_t rng_next(void) { /* xorshift64*: deterministic, no libc state */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 2685821657736338717ull) >> 32);
}

/* Word number k of the vocabulary: syllables spelled out from k's digits. */
static size_t word(uint32_t k, char *out) {
    static const char *syl[] = {"ka", "lo", "mi", "nu", "pe", "ra", "si", "tu", "ve", "zo", "qua", "rrh"};
    size_t n = 0;
    do {
        const char *s = syl[k % 12];
        size_t l = strlen(s);
        memcpy(out + n, s, l);
        n += l;
        k /= 12;
    } while (k > 0);
    out[n] = '\0';
    return n;
}

static char text[WORDS_PER_ROUND * 24];
static uint32_t ids[WORDS_PER_ROUND];
static uint32_t picks[WORDS_PER_ROUND];

/* One round: returns 0 on the first wrong answer (after reporting it). */
static int round_trip(long r) {
    size_t len = 0;
    rng_state = 0x9E3779B97F4A7C15ull ^ (uint64_t)(r + 1);
    for (int i = 0; i < WORDS_PER_ROUND; i++) {
        picks[i] = rng_next() % VOCABULARY;
        len += word(picks[i], text + len);
        text[len++] = (i % 16 == 15) ? '\n' : ' ';
    }
    intern_table *t = intern_new(0); /* start small: the index must grow */
    if (!MEMTEST_CHECK(t != NULL, "round %ld: intern_new failed", r)) return 0;
    size_t words = intern_tokenize(t, text, len, ids, WORDS_PER_ROUND);
    int ok = MEMTEST_CHECK(words == WORDS_PER_ROUND, "round %ld: %zu words tokenized, expected %d", r, words,
                           WORDS_PER_ROUND);
    for (int i = 0; ok && i < WORDS_PER_ROUND; i++) {
        char w[64];
        size_t wl = word(picks[i], w), got_len = 0;
        const char *got = intern_get(t, ids[i], &got_len);
        ok = MEMTEST_CHECK(got != NULL && got_len == wl && memcmp(got, w, wl) == 0,
                           "round %ld word %d: id %u gives back the wrong bytes", r, i, ids[i]) &&
             MEMTEST_CHECK(intern_find(t, w, wl) == ids[i], "round %ld word %d: find disagrees with put", r, i) &&
             MEMTEST_CHECK(intern_put(t, w, wl) == ids[i], "round %ld word %d: re-put gave a new id", r, i);
    }
    ok = ok && MEMTEST_CHECK(intern_count(t) <= VOCABULARY && intern_count(t) > VOCABULARY / 2,
                             "round %ld: %zu distinct words from a vocabulary of %d", r, intern_count(t),
                             VOCABULARY);
    intern_free(t);
    return ok;
}

/* Edge cases of the API, once: empty and NUL-carrying strings, unknown ids. */
static void edge_cases(void) {
    intern_table *t = intern_new(4);
    uint32_t empty = intern_put(t, "", 0), nul = intern_put(t, "a\0b", 3), a = intern_put(t, "a", 1);
    size_t l = 99;
    MEMTEST_CHECK(empty != 0 && nul != 0 && a != 0 && empty != nul && nul != a, "distinct ids for '', 'a\\0b', 'a'");
    MEMTEST_CHECK(intern_get(t, nul, &l) != NULL && l == 3, "the NUL-carrying string keeps its 3 bytes");
    MEMTEST_CHECK(intern_get(t, 0, NULL) == NULL && intern_get(t, 4, NULL) == NULL, "unknown ids give NULL");
    MEMTEST_CHECK(intern_find(t, "b", 1) == 0, "find does not intern");
    MEMTEST_CHECK(intern_put(NULL, "a", 1) == 0 && intern_put(t, NULL, 1) == 0, "NULL arguments give id 0");
    MEMTEST_CHECK(intern_count(t) == 3 && intern_data_bytes(t) == 4, "3 strings, 4 bytes of data");
    intern_free(t);
    intern_free(NULL);
}

/* One pass of the work: warm-up, the measured rounds, their figures and
 * checks. A soak by duration runs it again and again (main). */
static void one_pass(long rounds) {
    long every = rounds / CHECKPOINTS;
    long first_leaky_round = -1;

    for (long r = 0; r < 10; r++) round_trip(r); /* warm-up: malloc reaches its working set */
    uint64_t live0 = intern_live_allocations(), bytes0 = intern_live_bytes();
    long long rss0 = memtest_rss_bytes(), rss_last = rss0;
    memtest_progress(0); /* the measured loop begins: memtest's growth starts here */

    for (long r = 0; r < rounds; r++) {
        if (!round_trip(r)) break;
        if (first_leaky_round < 0 && intern_live_allocations() != live0) first_leaky_round = r;
        if ((r + 1) % every == 0) rss_last = memtest_rss_bytes();
    }
    uint64_t leaks = intern_live_allocations() - live0;
    memtest_report("native_leaks", (double)leaks);
    memtest_report("native_leaked_bytes", (double)(intern_live_bytes() - bytes0));
    memtest_report("operations", (double)rounds * WORDS_PER_ROUND);
    memtest_report("rss_growth_bytes", (double)(rss_last - rss0));
    MEMTEST_CHECK(leaks == 0, "%llu native allocations left live after %ld rounds (first in round %ld), limit 0",
                  (unsigned long long)leaks, rounds, first_leaky_round);
}

int main(void) {
    long rounds = memtest_iterations(2000, 800); /* >= 0.5 s: enough samples for the runner */

    MEMTEST_CHECK(intern_abi_version() == INTERN_ABI_VERSION, "ABI version %u, this suite was built for %u",
                  intern_abi_version(), INTERN_ABI_VERSION);
    edge_cases();
    /* `memtest run --duration 30m` (or the soak profile): pass after pass,
     * progress counting on, until the time is up or a check failed. */
    do {
        one_pass(rounds);
    } while (memtest_soak_next());
    return memtest_finish("test_memory");
}
