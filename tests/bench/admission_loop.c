/* The webhook's admission path without sockets or TLS: webhook_route() on one
 * AdmissionReview, repeated. Run under `valgrind --tool=callgrind` to count
 * instructions per review (stable on a loaded machine, unlike wall time):
 *
 *   admission_loop tests/fixtures/admission/kubectl-job.json 1000
 *
 * It checks every answer is a 200 with a patch, so a broken path cannot
 * look fast. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_support.h"
#include "buffer.h"
#include "clock.h"
#include "http_parser.h"
#include "log.h"
#include "request_router.h"
#include "test_platform.h"

static const platform_settings platform = {
    TEST_PLATFORM_DEFAULTS,
    .allowed_pools = "",
    .workload_identity = false,
};

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s REVIEW.json ITERATIONS\n", argv[0]);
        return 2;
    }
    size_t body_len;
    char *body = bench_read_file(argv[1], &body_len);
    long iterations = strtol(argv[2], NULL, 10);
    if (!body || iterations < 1) {
        fprintf(stderr, "%s: cannot read %s or bad iteration count\n", argv[0], argv[1]);
        return 2;
    }
    log_set_fd(open("/dev/null", O_WRONLY));
    static const char head_text[] = "POST /mutate?timeout=10s HTTP/1.1\r\n"
                                    "Host: offload-webhook.batch-offload.svc:443\r\n"
                                    "Content-Type: application/json\r\n"
                                    "Accept: application/json, */*\r\n\r\n";
    http_request_head head;
    if (http_parse_request_head(head_text, sizeof(head_text) - 1, &head) < 0)
        return 2;
    webhook_context context = {.platform = &platform, .tls_library = "none"};
    atomic_init(&context.ready, true);
    for (long i = 0; i < iterations; i++) {
        http_request request = {
            .head = &head,
            .body = body,
            .body_len = body_len,
            .peer = "127.0.0.1:40000",
            .started_ns = clock_monotonic_ns(),
        };
        http_response response;
        http_response_init(&response);
        webhook_route(&context, &request, &response);
        if (response.status != 200 || !memmem(response.body.data, response.body.len, "\"patch\"", 7)) {
            fprintf(stderr, "%s: answer %d without a patch: %.*s\n", argv[0], response.status,
                    (int)response.body.len, response.body.data);
            return 1;
        }
        http_response_free(&response);
    }
    free(body);
    return 0;
}
