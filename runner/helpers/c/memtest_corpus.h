/*
 * memtest_corpus.h: corpus mode for a C suite (docs/protocol.md, "Corpus
 * mode"), beside memtest.h (include that first). memtest hands the suite a
 * folder of inputs in MEMTEST_CORPUS; this walks it lazily, one directory
 * entry at a time (one open DIR per level of depth, at most
 * MEMTEST_CORPUS_MAX_DEPTH, never a list of the folder's paths), and tallies
 * what each file did. Before returning a file, memtest_corpus_next writes
 * its path to MEMTEST_INPUT_FILE, so a suite killed by a signal or its
 * timeout is reported with the file it was on; memtest_corpus_close removes
 * that file.
 *
 *   #include "memtest.h"
 *   #include "memtest_corpus.h"
 *   int main(void) {
 *       memtest_corpus_walk walk;
 *       memtest_corpus_tally tally = {{0}};
 *       const char *path;
 *       MEMTEST_CHECK(memtest_corpus_open(&walk, memtest_corpus_dir()) == 0, "no corpus");
 *       while ((path = memtest_corpus_next(&walk)) != NULL) {
 *           long before = live_allocations();
 *           int outcome = process_file(path) == 0 ? MEMTEST_CORPUS_OK : MEMTEST_CORPUS_DECODE_ERROR;
 *           if (live_allocations() != before) outcome = MEMTEST_CORPUS_LEAK;
 *           memtest_corpus_record(&tally, path, outcome, "");
 *       }
 *       memtest_corpus_close(&walk);
 *       memtest_corpus_report(&tally);
 *       MEMTEST_CHECK(memtest_corpus_failed(&tally) == 0, "%lu files leaked or crashed", memtest_corpus_failed(&tally));
 *       return memtest_finish("corpus");
 *   }
 *
 * POSIX (dirent.h, lstat); symbolic links are not followed.
 */
#ifndef MEMTEST_CORPUS_H
#define MEMTEST_CORPUS_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MEMTEST_CORPUS_MAX_DEPTH 64
#define MEMTEST_CORPUS_PATH_MAX 4096
/* The first this many leaks and crashes are named on stdout. */
#define MEMTEST_CORPUS_NAMED 20

enum {
    MEMTEST_CORPUS_OK = 0,
    MEMTEST_CORPUS_DECODE_ERROR = 1,
    MEMTEST_CORPUS_LEAK = 2,
    MEMTEST_CORPUS_CRASH = 3
};

typedef struct {
    DIR *dirs[MEMTEST_CORPUS_MAX_DEPTH];
    /* strlen(path) of each open directory, so its entries are appended. */
    size_t lens[MEMTEST_CORPUS_MAX_DEPTH];
    int depth;
    char path[MEMTEST_CORPUS_PATH_MAX];
} memtest_corpus_walk;

typedef struct {
    unsigned long counts[4];
} memtest_corpus_tally;

/* The folder in MEMTEST_CORPUS, or NULL. */
static inline const char *memtest_corpus_dir(void) {
    const char *dir = getenv("MEMTEST_CORPUS");
    return dir && *dir ? dir : NULL;
}

/* 0 when `root` is open for walking; -1 otherwise. */
static inline int memtest_corpus_open(memtest_corpus_walk *w, const char *root) {
    size_t len;
    w->depth = 0;
    if (!root || (len = strlen(root)) + 2 > sizeof w->path) return -1;
    memcpy(w->path, root, len + 1);
    if (!(w->dirs[0] = opendir(root))) return -1;
    w->lens[0] = len;
    w->depth = 1;
    return 0;
}

/* Overwrites MEMTEST_INPUT_FILE (when memtest set it) with `path`: done
 * before the file is worked on, so a crash of the library cannot undo it. A
 * failed write does not stop the walk: saying where it was is a courtesy. */
static inline void memtest_corpus_say_input(const char *path) {
    const char *file = getenv("MEMTEST_INPUT_FILE");
    FILE *f;
    if (!file || !*file || !(f = fopen(file, "w"))) return;
    fprintf(f, "%s\n", path);
    fclose(f);
}

/* The next regular file's path (valid until the next call), or NULL at the end. */
static inline const char *memtest_corpus_next(memtest_corpus_walk *w) {
    while (w->depth > 0) {
        int top = w->depth - 1;
        struct dirent *e = readdir(w->dirs[top]);
        size_t base = w->lens[top], name_len;
        struct stat st;
        if (!e) {
            closedir(w->dirs[top]);
            w->depth--;
            continue;
        }
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        name_len = strlen(e->d_name);
        if (base + 1 + name_len + 1 > sizeof w->path) continue;
        w->path[base] = '/';
        memcpy(w->path + base + 1, e->d_name, name_len + 1);
        if (lstat(w->path, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            DIR *d;
            if (w->depth == MEMTEST_CORPUS_MAX_DEPTH || !(d = opendir(w->path))) continue;
            w->dirs[w->depth] = d;
            w->lens[w->depth] = base + 1 + name_len;
            w->depth++;
        } else if (S_ISREG(st.st_mode)) {
            memtest_corpus_say_input(w->path);
            return w->path;
        }
    }
    return NULL;
}

static inline void memtest_corpus_close(memtest_corpus_walk *w) {
    const char *file = getenv("MEMTEST_INPUT_FILE");
    while (w->depth > 0) closedir(w->dirs[--w->depth]);
    if (file && *file) remove(file);
}

static inline unsigned long memtest_corpus_files(const memtest_corpus_tally *t) {
    return t->counts[0] + t->counts[1] + t->counts[2] + t->counts[3];
}

/* Leaks and crashes so far. */
static inline unsigned long memtest_corpus_failed(const memtest_corpus_tally *t) {
    return t->counts[MEMTEST_CORPUS_LEAK] + t->counts[MEMTEST_CORPUS_CRASH];
}

static inline void memtest_corpus_record(memtest_corpus_tally *t, const char *path, int outcome,
                                         const char *detail) {
    unsigned long shown;
    if (outcome < 0 || outcome > 3) outcome = MEMTEST_CORPUS_CRASH;
    t->counts[outcome]++;
    if (outcome != MEMTEST_CORPUS_LEAK && outcome != MEMTEST_CORPUS_CRASH) return;
    shown = memtest_corpus_failed(t);
    if (shown <= MEMTEST_CORPUS_NAMED)
        printf("corpus %s: %s: %s\n", outcome == MEMTEST_CORPUS_LEAK ? "leak" : "crash", path,
               detail ? detail : "");
    else if (shown == MEMTEST_CORPUS_NAMED + 1)
        printf("corpus: more leaks and crashes than %d; counting the rest\n", MEMTEST_CORPUS_NAMED);
    fflush(stdout);
}

/* The counts as MEMTEST corpus_* figures. */
static inline void memtest_corpus_report(const memtest_corpus_tally *t) {
    printf("MEMTEST corpus_files=%lu\n", memtest_corpus_files(t));
    printf("MEMTEST corpus_ok=%lu\n", t->counts[MEMTEST_CORPUS_OK]);
    printf("MEMTEST corpus_decode_errors=%lu\n", t->counts[MEMTEST_CORPUS_DECODE_ERROR]);
    printf("MEMTEST corpus_leaks=%lu\n", t->counts[MEMTEST_CORPUS_LEAK]);
    printf("MEMTEST corpus_crashes=%lu\n", t->counts[MEMTEST_CORPUS_CRASH]);
    fflush(stdout);
}

#endif
