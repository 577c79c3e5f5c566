/* What the webhook answers to each complete HTTP request: /mutate (the
 * admission review), /healthz, /readyz, /metrics. The server (http_server.c)
 * owns sockets and framing; this file owns meaning. Both the server and the
 * fuzzer call webhook_route(). */
#ifndef REQUEST_ROUTER_H
#define REQUEST_ROUTER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "http_message.h"
#include "platform_settings.h"

typedef struct webhook_context {
    const platform_settings *platform;
    atomic_bool ready; /* false while draining: /readyz answers 503 */
    const char *tls_library;
} webhook_context;

void webhook_route(webhook_context *ctx, const http_request *request, http_response *response);

#endif
