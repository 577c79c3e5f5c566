/* What the webhook answers to each complete HTTP request: /mutate (the
 * admission review), /healthz, /readyz, /metrics. The server (http_server.c)
 * owns sockets and framing; this file owns meaning. Both the server and the
 * fuzzer call webhook_route(). */
#ifndef REQUEST_ROUTER_H
#define REQUEST_ROUTER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "buffer.h"
#include "http_parser.h"
#include "platform_settings.h"

typedef struct http_response {
    int status;
    const char *content_type;
    const char *allow; /* the Allow header of a 405 */
    buffer body;
} http_response;

typedef struct webhook_context {
    const platform_settings *platform;
    atomic_bool ready; /* false while draining: /readyz answers 503 */
    const char *tls_library;
} webhook_context;

typedef struct webhook_request {
    const http_request_head *head;
    const char *body;
    size_t body_len;
    const char *peer;    /* "address:port", for logs */
    uint64_t started_ns; /* monotonic time of the request's first byte */
} webhook_request;

void http_response_init(http_response *r);
void http_response_free(http_response *r);
/* An error answer: a metav1.Status body, which the API server shows users. */
void http_response_error(http_response *r, int status, const char *message);
const char *http_status_text(int status);

void webhook_route(webhook_context *ctx, const webhook_request *request, http_response *response);

uint64_t monotonic_ns(void);

#endif
