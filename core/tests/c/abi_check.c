/*
 * abi_check.c - exercises include/pyjamaz.h from C against the built library.
 *
 * Usage: abi_check IMAGE_FILE
 * Prints one `key=value` line per fact; core/tests/c_header.rs compares them
 * with what Rust reports, so header and library cannot drift apart.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyjamaz.h"

#define LAYOUT(type, field) \
    printf("offsetof.%s.%s=%zu\n", #type, #field, offsetof(type, field))

static int32_t run(const uint8_t *input, size_t len, const char *metric, double max_diff) {
    PyjamazOptions options;
    memset(&options, 0, sizeof options);
    options.input = input;
    options.input_len = len;
    options.metric = metric;
    options.max_diff = max_diff;
    PyjamazResult *result = pyjamaz_optimize(&options);
    if (result == NULL) {
        printf("error=optimize returned NULL\n");
        exit(2);
    }
    int32_t code = result->error_code;
    if (code != PYJAMAZ_OK && (result->error_message == NULL || result->output != NULL)) {
        printf("error=bad error result for code %d\n", code);
        exit(2);
    }
    pyjamaz_free_result(result);
    return code;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s IMAGE_FILE\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (f == NULL) {
        perror("fopen");
        return 2;
    }
    static uint8_t image[1 << 20];
    size_t len = fread(image, 1, sizeof image, f);
    fclose(f);

    printf("sizeof.PyjamazOptions=%zu\n", sizeof(PyjamazOptions));
    printf("sizeof.PyjamazResult=%zu\n", sizeof(PyjamazResult));
    printf("sizeof.PyjamazAllocStats=%zu\n", sizeof(PyjamazAllocStats));
    LAYOUT(PyjamazOptions, input);
    LAYOUT(PyjamazOptions, input_len);
    LAYOUT(PyjamazOptions, max_bytes);
    LAYOUT(PyjamazOptions, max_diff);
    LAYOUT(PyjamazOptions, metric);
    LAYOUT(PyjamazOptions, formats);
    LAYOUT(PyjamazOptions, concurrency);
    LAYOUT(PyjamazResult, output);
    LAYOUT(PyjamazResult, output_len);
    LAYOUT(PyjamazResult, format);
    LAYOUT(PyjamazResult, diff_value);
    LAYOUT(PyjamazResult, passed);
    LAYOUT(PyjamazResult, error_code);
    LAYOUT(PyjamazResult, error_message);
    LAYOUT(PyjamazAllocStats, live_allocations);
    LAYOUT(PyjamazAllocStats, live_bytes);
    LAYOUT(PyjamazAllocStats, total_allocations);
    LAYOUT(PyjamazAllocStats, peak_bytes);

    printf("version=%s\n", pyjamaz_version());
    printf("abi_version=%u\n", pyjamaz_abi_version());
    printf("header_abi_version=%d\n", PYJAMAZ_ABI_VERSION);

    PyjamazAllocStats before, after;
    if (pyjamaz_alloc_stats(&before) != PYJAMAZ_OK) {
        printf("error=alloc_stats failed\n");
        return 2;
    }

    /* A real optimization: the output must decode to something non-empty. */
    PyjamazOptions options;
    memset(&options, 0, sizeof options);
    options.input = image;
    options.input_len = len;
    PyjamazResult *ok = pyjamaz_optimize(&options);
    printf("ok.code=%d\n", ok->error_code);
    printf("ok.format=%s\n", ok->format ? ok->format : "(null)");
    printf("ok.output_len=%zu\n", ok->output_len);
    printf("ok.passed=%d\n", ok->passed);
    pyjamaz_free_result(ok);

    static const uint8_t garbage[] = "this is not an image at all";
    uint8_t corrupt[64];
    memcpy(corrupt, image, 8); /* PNG signature ... */
    for (size_t i = 8; i < sizeof corrupt; i++) corrupt[i] = (uint8_t)(i * 37 + 11); /* ... then noise */

    PyjamazResult *null_options = pyjamaz_optimize(NULL);
    printf("code.null_options=%d\n", null_options->error_code);
    pyjamaz_free_result(null_options);
    printf("code.null_input=%d\n", run(NULL, 10, NULL, 0));
    printf("code.empty=%d\n", run(image, 0, NULL, 0));
    printf("code.unknown=%d\n", run(garbage, sizeof garbage - 1, NULL, 0));
    printf("code.corrupt=%d\n", run(corrupt, sizeof corrupt, NULL, 0));
    printf("code.truncated=%d\n", run(image, len / 2, NULL, 0));
    printf("code.bad_metric=%d\n", run(image, len, "psnr", 0));
    printf("code.negative_diff=%d\n", run(image, len, "ssim", -1.0));
    printf("code.stats_null=%d\n", pyjamaz_alloc_stats(NULL));
    pyjamaz_free_result(NULL);

    pyjamaz_alloc_stats(&after);
    printf("live_allocations.delta=%lld\n",
           (long long)after.live_allocations - (long long)before.live_allocations);
    printf("done=1\n");
    return 0;
}
