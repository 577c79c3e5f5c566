/* The HTTP messages the webhook's server exchanges with its handler: a
 * request as framed by the server (head parsed in place, body complete) and
 * the answer the handler writes, plus how an answer goes on the wire. */
#ifndef HTTP_MESSAGE_H
#define HTTP_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

#include "buffer.h"
#include "http_parser.h"

typedef struct http_request {
    const http_request_head *head; /* points into the connection's buffer */
    const char *body;
    size_t body_len;
    const char *peer;    /* "address:port", for logs */
    uint64_t started_ns; /* monotonic time of the request's first byte */
} http_request;

typedef struct http_response {
    int status;
    const char *content_type;
    const char *allow;       /* the Allow header of a 405 */
    const char *retry_after; /* the Retry-After header of a 503 */
    buffer body;
} http_response;

typedef void (*http_handler)(void *context, const http_request *request,
                             http_response *response);

void http_response_init(http_response *r);
void http_response_free(http_response *r);
/* An error answer: a metav1.Status body, which the API server shows users. */
void http_response_error(http_response *r, int status, const char *message);
const char *http_status_text(int status);

/* Appends the status line and headers of r to out, with the Content-Length
 * of its body; the body itself is the caller's to send or leave out (HEAD). */
void http_response_write_head(const http_response *r, bool keep_alive, buffer *out);

#endif
