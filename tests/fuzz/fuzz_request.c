/* libFuzzer target over the webhook's whole request path, without sockets:
 * the input is the byte stream of one connection. Each request in it goes
 * through the head parser, the framing rules, routing, AdmissionReview
 * decoding and the Job mutation, exactly as http_server.c drives them.
 * Besides crashes and sanitizer reports, it checks what must always hold:
 * every /mutate answer is valid JSON, and a patch is valid JSON too. */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base64.h"
#include "http_parser.h"
#include "json_reader.h"
#include "log.h"
#include "request_router.h"

#define MAX_HEAD 16384
#define MAX_BODY (3 * 1024 * 1024)

static const platform_settings platform = {
    .offloader_image = "registry.example.com/batch-offload/offloader:0.1.0",
    .credentials_secret = "batch-offload-credentials",
    .default_pool = "",
    .allowed_pools = "pool-a,pool-b",
    .max_completions = 10000,
    .default_storage_container = "batch-offload",
    .default_vm_size = "",
    .allowed_namespaces = "",
    .offloader_service_account = "",
    .workload_identity = true,
    .offloader_backoff_limit = 3,
};

static void require_valid_json(const char *text, size_t len)
{
    json_document doc;
    char error[128];
    if (!json_document_parse(&doc, text, len, 1 << 20, error, sizeof(error)))
        abort();
    json_document_free(&doc);
}

/* A 200 answer to /mutate is an AdmissionReview whose patch, if any, is JSON. */
static void check_admission_answer(const http_response *res)
{
    require_valid_json(res->body.data, res->body.len);
    json_document doc;
    char error[128];
    json_document_parse(&doc, res->body.data, res->body.len, 1 << 20, error, sizeof(error));
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static webhook_context context;
    static bool ready;
    if (!ready) {
        log_set_fd(open("/dev/null", O_WRONLY));
        context.platform = &platform;
        context.tls_library = "fuzz";
        atomic_init(&context.ready, true);
        ready = true;
    }
    const char *p = (const char *)data;
    size_t left = size;
    for (int requests = 0; requests < 8 && left > 0; requests++) {
        http_request_head head;
        int head_len = http_parse_request_head(p, left < MAX_HEAD ? left : MAX_HEAD, &head);
        if (head_len < 0)
            return 0;
        http_framing framing;
        const char *message;
        if (http_request_framing(&head, MAX_BODY, &framing, &message) != 0)
            return 0;
        if (framing.body_len > left - (size_t)head_len)
            return 0;
        webhook_request request = {
            .head = &head,
            .body = p + head_len,
            .body_len = framing.body_len,
            .peer = "fuzz",
            .started_ns = monotonic_ns(),
        };
        http_response response;
        http_response_init(&response);
        webhook_route(&context, &request, &response);
        if (response.status < 100 || response.status > 599 || !buffer_ok(&response.body))
            abort();
        if (response.status == 200 && head.target_len >= 7 && !memcmp(head.target, "/mutate", 7))
            check_admission_answer(&response);
        http_response_free(&response);
        p += (size_t)head_len + framing.body_len;
        left -= (size_t)head_len + framing.body_len;
    }
    return 0;
}
