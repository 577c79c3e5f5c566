/* make bench-json: the JSON reader on the worst inputs a client can send at
 * the webhook's body limit (3 MiB, the default --max-body-bytes), against
 * the real AdmissionReview measured in the same run.
 *
 *   bench_json_reader tests/fixtures/admission/kubectl-job.json
 *
 * Times are the thread's CPU time (a loaded machine stretches wall time, not
 * this), the best of several parses, page faults on the token array
 * included. The main rows allow any number of tokens (the reader's own
 * cost); the last column is the webhook's parse, which stops at
 * ADMISSION_MAX_TOKENS. Bars:
 * - each parse under 1 s: the API server gives a webhook at most 10 s and
 *   the chart sets 5 s, for TLS, queueing behind other requests on two
 *   worker threads and the rest of the admission work too;
 * - linear: the cost per byte at 3 MiB at most 4x that at 1/8 the size. A
 *   cost growing with the square of the input shows 8x; a linear one shows
 *   1x to 2.5x (instructions per byte are the same at both sizes; the
 *   densest input's 39 MB of tokens at 3 MiB miss the caches and fault in
 *   fresh pages, where the 5 MB of its eighth do not);
 * - nesting past the limit refused at once: under 1 ms. */
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admission_review.h"
#include "bench_support.h"
#include "buffer.h"
#include "json_reader.h"

#define BODY_LIMIT (3 * 1024 * 1024)
#define BAR_MS 1000.0
#define REFUSAL_BAR_MS 1.0
#define LINEAR_BAR 4.0
#define SMALL_DIVISOR 8
/* One environment variable holds at most 128 KiB on Linux (MAX_ARG_STRLEN):
 * the most a WORKERSPEC can be. */
#define WORKER_SPEC_LIMIT (128 * 1024)

static double cpu_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

typedef struct outcome {
    bool accepted;
    int tokens;
    char error[128];
    double seconds; /* best of the runs, per parse */
} outcome;

/* Parses text `runs` times at least and for 0.2 s at least; keeps the best. */
static outcome measure(const char *text, size_t len, int max_tokens, int runs)
{
    outcome o = {.seconds = 1e9};
    double spent = 0;
    for (int i = 0; i < runs || spent < 0.2; i++) {
        json_document doc;
        double start = cpu_seconds();
        o.accepted = json_document_parse(&doc, text, len, max_tokens, o.error, sizeof(o.error));
        double took = cpu_seconds() - start;
        spent += took;
        if (took < o.seconds)
            o.seconds = took;
        if (o.accepted) {
            o.tokens = doc.count;
            json_document_free(&doc);
        }
    }
    return o;
}

/* Appends `unit` to text until the next copy would pass `size` bytes less
 * the `tail` still to come. */
static void repeat_into(buffer *text, const char *unit, const char *separator, size_t size,
                        size_t tail)
{
    size_t unit_len = strlen(unit), sep_len = strlen(separator);
    for (bool first = true; text->len + unit_len + sep_len + tail <= size; first = false) {
        if (!first)
            buffer_append(text, separator, sep_len);
        buffer_append(text, unit, unit_len);
    }
}

/* One nest at the limit inside the outer array: JSON_MAX_DEPTH levels in all. */
static void nest_unit(buffer *unit)
{
    for (int i = 0; i < JSON_MAX_DEPTH - 1; i++)
        buffer_append_char(unit, '[');
    for (int i = 0; i < JSON_MAX_DEPTH - 1; i++)
        buffer_append_char(unit, ']');
}

/* Each input is a unit repeated between an opening and a closing text. */
typedef enum {
    UNIT_TEXT,       /* `unit` as written */
    UNIT_NEST,       /* one nest at the limit */
    UNIT_REVIEW,     /* the review given on the command line */
    OPEN_THEN_CLOSE, /* no unit: half the size '[', then as many ']' */
} unit_source;

static const struct input {
    const char *name;
    unit_source source;
    const char *open, *unit, *separator, *close;
} inputs[] = {
    {"nesting at the limit, repeated", UNIT_NEST, "[", NULL, ",", "]"},
    /* the attack of issue 10: 6.5 s at 128 KB, about an hour at 3 MiB */
    {"nesting past the limit [[[...]]]", OPEN_THEN_CLOSE, "", NULL, "", ""},
    {"tiny elements [0,0,...]", UNIT_TEXT, "[", "0", ",", "]"},
    {"tiny members {\"a\":0,...}", UNIT_TEXT, "{", "\"a\":0", ",", "}"},
    {"one long string", UNIT_TEXT, "[\"", "abcdefghijklmnopqrstuvwxyz012345", "", "\"]"},
    {"one string of escapes", UNIT_TEXT, "[\"", "\\n\\\"\\u00e9\\ud83d\\ude00\\\\", "", "\"]"},
    {"tiny escaped strings", UNIT_TEXT, "[", "\"\\n\"", ",", "]"},
    {"copies of the review", UNIT_REVIEW, "[", NULL, ",", "]"},
};
#define INPUT_COUNT (sizeof(inputs) / sizeof(inputs[0]))
#define NEST_PAST_LIMIT 1 /* the row that must be refused */

/* The input, `size` bytes or a little less. */
static void make_input(buffer *text, const struct input *in, size_t size, const char *review)
{
    buffer_reset(text);
    if (in->source == OPEN_THEN_CLOSE) {
        while (text->len < size / 2)
            buffer_append_char(text, '[');
        while (text->len < size / 2 * 2)
            buffer_append_char(text, ']');
        return;
    }
    buffer unit;
    buffer_init(&unit, 0);
    if (in->source == UNIT_NEST)
        nest_unit(&unit);
    buffer_append_str(&unit, in->source == UNIT_REVIEW ? review : in->unit ? in->unit : "");
    buffer_append_str(text, in->open);
    repeat_into(text, buffer_cstr(&unit), in->separator, size, strlen(in->close));
    buffer_append_str(text, in->close);
    buffer_free(&unit);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s REVIEW.json\n", argv[0]);
        return 2;
    }
    size_t review_len;
    char *review = bench_read_file(argv[1], &review_len);
    if (!review) {
        fprintf(stderr, "%s: cannot read %s\n", argv[0], argv[1]);
        return 2;
    }
    outcome base = measure(review, review_len, ADMISSION_MAX_TOKENS, 1000);
    if (!base.accepted) {
        fprintf(stderr, "%s: the review does not parse: %s\n", argv[0], base.error);
        return 2;
    }
    double base_per_byte = base.seconds / (double)review_len;
    printf("JSON reader, depth limit %d, CPU time per parse (best of several runs)\n", JSON_MAX_DEPTH);
    printf("baseline: %s, %zu bytes, %d tokens: %.1f us, %.2f ns/byte\n\n", argv[1], review_len,
           base.tokens, base.seconds * 1e6, base_per_byte * 1e9);
    printf("%-32s %9s %-44s %9s %8s %8s  %s\n", "input (3 MiB)", "bytes", "outcome", "ms/parse",
           "x review", "x 1/8th", "webhook, at most 262144 tokens");

    bool pass = true;
    double worst_worker_spec_ms = 0;
    buffer text, small;
    buffer_init(&text, 0);
    buffer_init(&small, 0);
    for (size_t kind = 0; kind < INPUT_COUNT; kind++) {
        make_input(&text, &inputs[kind], BODY_LIMIT, review);
        make_input(&small, &inputs[kind], BODY_LIMIT / SMALL_DIVISOR, review);
        if (!buffer_ok(&text) || !buffer_ok(&small)) {
            fprintf(stderr, "%s: out of memory\n", argv[0]);
            return 2;
        }
        outcome o = measure(text.data, text.len, INT_MAX, 3);
        outcome s = measure(small.data, small.len, INT_MAX, 3);
        double small_per_byte = s.seconds / (double)small.len;
        outcome webhook = measure(text.data, text.len, ADMISSION_MAX_TOKENS, 3);
        make_input(&small, &inputs[kind], WORKER_SPEC_LIMIT, review);
        outcome worker_spec = measure(small.data, small.len, 1 << 20, 3);
        if (worker_spec.seconds * 1e3 > worst_worker_spec_ms)
            worst_worker_spec_ms = worker_spec.seconds * 1e3;

        double ms = o.seconds * 1e3;
        double per_byte = o.seconds / (double)text.len;
        double growth = o.accepted ? per_byte / small_per_byte : 0;
        bool ok = ms < BAR_MS && (!o.accepted || growth <= LINEAR_BAR) &&
                  (kind != NEST_PAST_LIMIT || (!o.accepted && ms < REFUSAL_BAR_MS));
        pass = pass && ok;
        char what[160], limited[160];
        if (o.accepted)
            snprintf(what, sizeof(what), "accepted, %d tokens", o.tokens);
        else
            snprintf(what, sizeof(what), "%s", o.error + strlen("invalid JSON "));
        if (webhook.accepted)
            snprintf(limited, sizeof(limited), "accepted, %.2f ms", webhook.seconds * 1e3);
        else
            snprintf(limited, sizeof(limited), "%.2f ms: %s", webhook.seconds * 1e3,
                     webhook.error + strlen("invalid JSON "));
        char growth_text[16] = "-";
        if (o.accepted)
            snprintf(growth_text, sizeof(growth_text), "%.2f", growth);
        printf("%-32s %9zu %-44.44s %9.3f %8.2f %8s  %s  %s\n", inputs[kind].name, text.len, what,
               ms, per_byte / base_per_byte, growth_text, limited, ok ? "PASS" : "FAIL");
    }
    printf("\noffloader: WORKERSPEC is one environment variable, at most 128 KiB: the worst input "
           "above at that size takes %.3f ms\n", worst_worker_spec_ms);
    pass = pass && worst_worker_spec_ms < BAR_MS;
    printf("bars: each parse < %.0f ms, per-byte cost at 3 MiB <= %.1fx that at 1/%d, nesting past "
           "the limit refused in < %.0f ms: %s\n", BAR_MS, LINEAR_BAR, SMALL_DIVISOR,
           REFUSAL_BAR_MS, pass ? "PASS" : "FAIL");
    buffer_free(&text);
    buffer_free(&small);
    free(review);
    return pass ? 0 : 1;
}
