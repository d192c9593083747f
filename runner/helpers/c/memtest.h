/*
 * memtest.h: the generic half of a memtest suite written in C (or C++).
 * Header-only, C99, no dependencies. memtest writes it to
 * <project>/.memtest/helpers/c/memtest.h (MEMTEST_HELPERS/c): add that folder
 * to the include path. The protocol is in docs/protocol.md; in short:
 *
 *   env in:   MEMTEST_SCALE (iteration multiplier), MEMTEST_FIXTURES,
 *             MEMTEST_CANARY (a canary's mode), MEMTEST_EXPECT, <lib_env>;
 *   lines out: "MEMTEST name=value" figures, and "TEST PASSED" only after
 *             every check held, exit status 0 (memtest_finish() does both);
 *             in attribution mode (MEMTEST_CAUSE, set by `memtest explain`)
 *             memtest_checkpoint(x) prints the allocator's figures
 *             ("MEMTEST checkpoint=x rss_bytes=.. malloc_in_use_bytes=.."),
 *             after malloc_trim(0) when MEMTEST_MALLOC_TRIM is set.
 *
 *   #include "memtest.h"
 *   int main(void) {
 *       long ops = memtest_iterations(10000, 1);
 *       for (long i = 0; i < ops; i++) work();
 *       MEMTEST_CHECK(live_allocations() == 0, "%ld allocations left live", live_allocations());
 *       memtest_report("native_leaks", (double)live_allocations());
 *       memtest_report("operations", (double)ops);
 *       return memtest_finish("my_suite");
 *   }
 *
 * A soak by duration (MEMTEST_DURATION_MS, `memtest run --duration`, the
 * `soak` profile) needs the work wrapped in a loop, since C cannot run main
 * again:
 *
 *       do { ...the work and its checks... } while (memtest_soak_next());
 *
 * memtest_soak_next() returns 0 at once when the run is not a soak, so the
 * loop costs nothing then.
 *
 * Every function is `static inline`, so an unused one costs nothing and
 * raises no warning.
 */
#ifndef MEMTEST_H
#define MEMTEST_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#if defined(__APPLE__)
#include <mach/mach.h>
#include <sys/resource.h>
#endif

#define MEMTEST_MARKER "TEST PASSED"

/* MEMTEST_SCALE as a positive finite number, 1.0 when unset or empty. A bad
 * value ends the process (exit 2): a suite must not run at a scale it was
 * not asked for. */
static inline double memtest_scale(void) {
    const char *raw = getenv("MEMTEST_SCALE");
    char *end = NULL;
    double value;
    if (raw == NULL || *raw == '\0') return 1.0;
    value = strtod(raw, &end);
    if (end == raw || *end != '\0' || !(value > 0.0) || !isfinite(value)) {
        fprintf(stderr, "MEMTEST_SCALE must be a positive number, got '%s'\n", raw);
        exit(2);
    }
    return value;
}

/* `seed` (the count at scale 1) times the scale, rounded, at least `minimum`. */
static inline long memtest_iterations(long seed, long minimum) {
    double n = floor((double)seed * memtest_scale() + 0.5);
    return n < (double)minimum ? minimum : (long)n;
}

/* MEMTEST_CANARY (a canary's mode), or NULL when unset or empty. */
static inline const char *memtest_canary(void) {
    const char *mode = getenv("MEMTEST_CANARY");
    return (mode != NULL && *mode != '\0') ? mode : NULL;
}

/* Prints one "MEMTEST name=value" figure line, flushed at once. */
static inline void memtest_report(const char *name, double value) {
    if (value == floor(value) && fabs(value) < 9.0e15)
        printf("MEMTEST %s=%.0f\n", name, value);
    else
        printf("MEMTEST %s=%.17g\n", name, value);
    fflush(stdout);
}

/* Operations the measured loop has done so far ("MEMTEST progress=N"): memtest
 * times each line, so RSS can be judged per operation (`slope_per_op`). */
static long memtest_progress_base_ = 0, memtest_progress_high_ = 0;
static inline void memtest_progress(long operations) {
    /* A soak's later passes count on from the last: one measured loop. */
    long total = memtest_progress_base_ + operations;
    if (total > memtest_progress_high_) memtest_progress_high_ = total;
    printf("MEMTEST progress=%ld\n", total);
    fflush(stdout);
}

/* MEMTEST_DURATION_MS: a soak's duration in ms, or 0 when the run is not a
 * soak by duration. A bad value ends the process (exit 2). */
static inline long long memtest_duration_ms(void) {
    const char *raw = getenv("MEMTEST_DURATION_MS");
    char *end = NULL;
    long long value;
    if (raw == NULL || *raw == '\0') return 0;
    value = strtoll(raw, &end, 10);
    if (end == raw || *end != '\0' || value <= 0) {
        fprintf(stderr, "MEMTEST_DURATION_MS must be a positive whole number, got '%s'\n", raw);
        exit(2);
    }
    return value;
}

/* The soak's clock (whole seconds: C99 has no monotonic clock; a soak is
 * long): from the process's start where the compiler runs constructors,
 * else from the first memtest_soak_next(). */
static time_t memtest_soak_started_ = 0;
#if defined(__GNUC__)
__attribute__((constructor)) static void memtest_soak_clock_(void) {
    memtest_soak_started_ = time(NULL);
}
#endif

/* Failed checks so far. One per translation unit: call the checks and
 * memtest_finish() from the same file (a suite's main file). */
static int memtest_failures_ = 0;

/* After each pass of a soak's work: reports soak_passes=N and returns 1 while
 * the duration is not up and no check failed, so the work runs again (its
 * progress counting on); returns 0 at once when the run is not a soak. */
static inline int memtest_soak_next(void) {
    static long passes = 0;
    long long ms = memtest_duration_ms();
    if (ms == 0) return 0;
    if (memtest_soak_started_ == 0) memtest_soak_started_ = time(NULL);
    memtest_report("soak_passes", (double)++passes);
    if (memtest_failures_ > 0) return 0;
    if (difftime(time(NULL), memtest_soak_started_) * 1000.0 >= (double)ms) return 0;
    memtest_progress_base_ = memtest_progress_high_;
    return 1;
}

#if defined(__linux__)
/* A "Vm...:   N kB" field of /proc/self/status in bytes, or -1. */
static inline long long memtest_proc_status_(const char *field) {
    char line[256];
    size_t len = strlen(field);
    long long kb = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL) return -1;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, field, len) == 0 && line[len] == ':') {
            kb = strtoll(line + len + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb < 0 ? -1 : kb * 1024;
}
#endif

/* Current resident set size in bytes (-1 where unknown). */
static inline long long memtest_rss_bytes(void) {
#if defined(__linux__)
    return memtest_proc_status_("VmRSS");
#elif defined(__APPLE__)
    mach_task_basic_info_data_t info;
    mach_msg_type_number_t count = MACH_TASK_BASIC_INFO_COUNT;
    if (task_info(mach_task_self(), MACH_TASK_BASIC_INFO, (task_info_t)&info, &count) != KERN_SUCCESS)
        return -1;
    return (long long)info.resident_size;
#else
    return -1;
#endif
}

/* Exact peak RSS in bytes: VmHWM on Linux, ru_maxrss (bytes) on macOS. */
static inline long long memtest_peak_rss_bytes(void) {
#if defined(__linux__)
    return memtest_proc_status_("VmHWM");
#elif defined(__APPLE__)
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return -1;
    return (long long)ru.ru_maxrss;
#else
    return -1;
#endif
}

/* An environment flag: set, non-empty and not "0". */
static inline int memtest_flag_(const char *name) {
    const char *v = getenv(name);
    return v != NULL && *v != '\0' && strcmp(v, "0") != 0;
}

/* A checkpoint of the measured loop at `x` (operations or rounds done). In
 * attribution mode (MEMTEST_CAUSE, set by `memtest explain` to tell a leak
 * from memory the allocator keeps) it prints one line with RSS and glibc's
 * in-use and free bytes (mallinfo2); with MEMTEST_MALLOC_TRIM it first calls
 * malloc_trim(0) and reports the RSS that gave back. Otherwise it does
 * nothing. Call it from one thread, after the checkpoint's frees. */
static inline void memtest_checkpoint(double x) {
    long long rss;
    if (!memtest_flag_("MEMTEST_CAUSE")) return;
    rss = memtest_rss_bytes();
    printf("MEMTEST checkpoint=%.17g", x);
#if defined(__GLIBC__)
    if (memtest_flag_("MEMTEST_MALLOC_TRIM")) {
        long long after;
        malloc_trim(0);
        after = memtest_rss_bytes();
        printf(" malloc_trimmed_bytes=%lld", rss > after ? rss - after : 0LL);
        rss = after;
    }
    {
#if __GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33)
        struct mallinfo2 mi = mallinfo2();
#else
        struct mallinfo mi = mallinfo(); /* int fields: wraps past 2 GB */
#endif
        printf(" malloc_in_use_bytes=%llu malloc_free_bytes=%llu",
               (unsigned long long)mi.uordblks + (unsigned long long)mi.hblkhd,
               (unsigned long long)mi.fordblks);
    }
#endif
    if (rss >= 0) printf(" rss_bytes=%lld", rss);
    printf("\n");
    fflush(stdout);
}

/* A soft assertion: prints "FAIL <file>:<line>: message" to stderr when the
 * condition is false and goes on, so one run shows every failed check. */
#define MEMTEST_CHECK(cond, ...) \
    ((cond) ? 1 : memtest_fail_(__FILE__, __LINE__, __VA_ARGS__))

static inline int memtest_fail_(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    memtest_failures_++;
    fprintf(stderr, "FAIL %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    return 0;
}

/* Reports peak_rss_bytes, then prints the marker and returns 0 when every
 * check held, or returns 1 without the marker. `return memtest_finish(..)`
 * from main. */
static inline int memtest_finish(const char *suite) {
    long long peak = memtest_peak_rss_bytes();
    if (peak >= 0) memtest_report("peak_rss_bytes", (double)peak);
    if (memtest_failures_ > 0) {
        fprintf(stderr, "FAIL %s: %d check(s) failed\n", suite, memtest_failures_);
        return 1;
    }
    printf("%s\n", MEMTEST_MARKER);
    fflush(stdout);
    return 0;
}

#endif /* MEMTEST_H */
