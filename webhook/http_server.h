/* The webhook's HTTPS server: HTTP/1.1 with keep-alive over TLS, epoll
 * event loops on a few threads, so one slow client never holds up another.
 * It frames requests (head limits, Content-Length, timeouts), bounds what it
 * holds (connections, buffered bytes) and hands each complete request to a
 * handler. */
#ifndef HTTP_SERVER_H
#define HTTP_SERVER_H

#include <stddef.h>

#include "http_message.h"
#include "tls.h"

typedef struct http_server_config {
    const char *listen; /* "host:port", "[v6]:port"; port 0 picks a free one */
    int threads;
    /* Open connections at most; at the limit the oldest idle keep-alive
     * connection is closed to admit a new one. */
    int max_connections;
    int header_timeout_ms; /* handshake and request head */
    int body_timeout_ms;
    int idle_timeout_ms;   /* keep-alive between requests */
    size_t max_header_bytes;
    size_t max_body_bytes;
    /* Request and answer bytes held by all connections together; a request
     * that would pass it is answered 503 with Retry-After. */
    size_t max_buffered_bytes;
} http_server_config;

typedef struct http_server http_server;

/* Binds and starts serving on config->threads threads. */
http_server *http_server_start(const http_server_config *config, tls_server *tls,
                               http_handler handler, void *context, char *error,
                               size_t error_size);
int http_server_port(const http_server *server);
/* Stops accepting, lets requests already received finish (closing each
 * connection after its answer), closes idle connections, and returns when
 * none is left or after timeout_ms. Frees the server. */
void http_server_drain_and_free(http_server *server, int timeout_ms);

#endif
