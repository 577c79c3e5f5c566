/* libFuzzer target over the webhook's connection handling, without sockets:
 * the input is a split seed (4 bytes) and then the byte stream of one
 * connection. The stream goes through http_connection.c exactly as the
 * server drives it (head parse, framing, body accumulation, 100-continue,
 * pipelining, keep-alive, then routing, AdmissionReview decoding and the
 * Job mutation), twice: in one piece as far as the connection takes it, and
 * cut at the places the seed picks, with the answers also taken in pieces.
 * Besides crashes and sanitizer reports it checks what must always hold:
 * both runs answer byte for byte the same (leaving out interim 100
 * Continue answers, which only a body still on its way gets); every answer
 * is well-formed HTTP; every /mutate answer is valid JSON, its patch too;
 * the connection always wants input, has output or is done. A third run
 * with a budget too small for most requests must answer 503, never crash. */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base64.h"
#include "buffer.h"
#include "http_connection.h"
#include "json_reader.h"
#include "log.h"
#include "request_router.h"
#include "test_platform.h"

#define MAX_HEAD 16384
#define MAX_BODY (256 * 1024)

static const platform_settings platform = {
    TEST_PLATFORM_DEFAULTS,
    .allowed_pools = "pool-a,pool-b",
    .workload_identity = true,
};

static const http_limits limits = {.max_header_bytes = MAX_HEAD, .max_body_bytes = MAX_BODY};
static webhook_context context;

/* What one run's handler saw: per request, whether it was HEAD (its answer
 * then has a Content-Length but no body). */
typedef struct run_record {
    buffer head_requests; /* one byte per request: 1 for HEAD */
} run_record;

static void check_admission_answer(const char *body, size_t len);

static bool target_starts(const http_request *req, const char *prefix)
{
    size_t n = strlen(prefix);
    return req->head->target_len >= n && memcmp(req->head->target, prefix, n) == 0;
}

static void handle(void *ctx, const http_request *req, http_response *res)
{
    run_record *record = ctx;
    bool head = req->head->method_len == 4 && memcmp(req->head->method, "HEAD", 4) == 0;
    buffer_append_char(&record->head_requests, head ? 1 : 0);
    /* /metrics counts what came before, so its answer differs between runs
     * of the same stream; it is rendered elsewhere, here it is a constant. */
    if (target_starts(req, "/metrics")) {
        res->status = 200;
        buffer_append_str(&res->body, "metrics\n");
        return;
    }
    webhook_route(&context, req, res);
    if (res->status == 200 && target_starts(req, "/mutate"))
        check_admission_answer(res->body.data, res->body.len);
}

static void require_valid_json(const char *text, size_t len)
{
    json_document doc;
    char error[128];
    if (!json_document_parse(&doc, text, len, 1 << 20, error, sizeof(error)))
        abort();
    json_document_free(&doc);
}

/* A 200 JSON answer is an AdmissionReview whose patch, if any, is JSON. */
static void check_admission_answer(const char *body, size_t len)
{
    require_valid_json(body, len);
    json_document doc;
    char error[128];
    json_document_parse(&doc, body, len, 1 << 20, error, sizeof(error));
    int patch = json_lookup(&doc, 0, "response", "patch", NULL);
    if (patch >= 0) {
        char *encoded = json_string_dup(&doc, patch);
        size_t n = strlen(encoded), decoded_len = 0;
        uint8_t *decoded = malloc(n + 1);
        if (!base64_decode(encoded, n, decoded, n + 1, &decoded_len))
            abort();
        require_valid_json((const char *)decoded, decoded_len);
        free(decoded);
        free(encoded);
    }
    json_document_free(&doc);
}

static const char *find(const char *p, const char *end, const char *what)
{
    size_t n = strlen(what);
    for (; p + n <= end; p++)
        if (memcmp(p, what, n) == 0)
            return p;
    return NULL;
}

/* Walks the answers in out: each a status line, headers with a
 * Content-Length and that many bytes (none after a HEAD request's); only
 * the last may come from no request (a refusal). Drops interim answers. */
static void check_answers(buffer *out, const run_record *record)
{
    buffer kept;
    buffer_init(&kept, 0);
    const char *p = out->data ? out->data : "", *end = p + out->len;
    size_t answered = 0;
    while (p < end) {
        const char *head_end = find(p, end, "\r\n\r\n");
        if (!head_end || end - p < 13 || memcmp(p, "HTTP/1.1 ", 9) != 0)
            abort();
        int status = atoi(p + 9);
        head_end += 4;
        if (status == 100) {
            p = head_end;
            continue;
        }
        const char *length = find(p, head_end, "\r\nContent-Length: ");
        if (status < 200 || status > 599 || !length)
            abort();
        size_t body_len = strtoul(length + 18, NULL, 10);
        if (answered < record->head_requests.len && record->head_requests.data[answered])
            body_len = 0;
        else if (answered > record->head_requests.len)
            abort(); /* more answers than requests and one refusal */
        answered++;
        if (body_len > (size_t)(end - head_end))
            abort();
        buffer_append(&kept, p, (size_t)(head_end - p) + body_len);
        p = head_end + body_len;
    }
    buffer_free(out);
    *out = kept;
}

/* Split sizes from a seed: mostly a few bytes, sometimes a whole read. */
static size_t next_piece(uint32_t *state, size_t most)
{
    if (*state == 0)
        return most; /* seed 0: never cut */
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;
    size_t n = *state % 8 == 0 ? 16384 : 1 + *state % 64;
    return n < most ? n : most;
}

/* Runs the stream through one connection; returns everything it sent,
 * checked and without interim answers. */
static buffer run(const uint8_t *data, size_t size, uint32_t seed, size_t budget_bytes)
{
    buffer_budget budget = {.limit = budget_bytes};
    run_record record;
    buffer_init(&record.head_requests, 0);
    http_connection c;
    http_connection_init(&c, &limits, &budget, handle, &record, "fuzz");
    buffer sent;
    buffer_init(&sent, 0);
    size_t at = 0;
    for (;;) {
        http_phase phase = http_connection_process(&c);
        size_t pending;
        const char *out = http_connection_output(&c, &pending);
        if (pending) {
            size_t n = next_piece(&seed, pending);
            buffer_append(&sent, out, n);
            http_connection_sent(&c, n, 0);
            continue;
        }
        if (phase == HTTP_PHASE_DONE)
            break;
        size_t room = http_connection_read_room(&c);
        if (room == 0)
            abort(); /* wants no input, has no output and is not done: stuck */
        if (at == size) { /* the peer stops sending: its deadline passes */
            if (http_connection_time_out(&c))
                continue;
            break;
        }
        size_t n = next_piece(&seed, room < size - at ? room : size - at);
        http_connection_receive(&c, (const char *)data + at, n, 0);
        at += n;
    }
    http_connection_free(&c);
    if (atomic_load(&budget.used) != 0)
        abort(); /* every byte drawn was given back */
    check_answers(&sent, &record);
    buffer_free(&record.head_requests);
    return sent;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        log_set_fd(open("/dev/null", O_WRONLY));
        context.platform = &platform;
        context.tls_library = "fuzz";
        atomic_init(&context.ready, true);
        ready = true;
    }
    if (size < 4)
        return 0;
    uint32_t seed;
    memcpy(&seed, data, 4);
    data += 4;
    size -= 4;
    size_t enough = 2 * (MAX_HEAD + MAX_BODY) + 65536;
    buffer whole = run(data, size, 0, enough);
    buffer pieces = run(data, size, seed, enough);
    if (whole.len != pieces.len || (whole.len && memcmp(whole.data, pieces.data, whole.len)))
        abort();
    buffer_free(&whole);
    buffer_free(&pieces);
    buffer starved = run(data, size, seed, 2048 + seed % 4096);
    buffer_free(&starved);
    return 0;
}
