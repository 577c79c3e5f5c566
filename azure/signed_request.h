/* A request as it will be sent, the way a signer sees it: Shared Key covers
 * exactly these bytes, and the HTTP client keeps its headers in this shape
 * so that what is signed is what goes out. */
#ifndef SIGNED_REQUEST_H
#define SIGNED_REQUEST_H

#include <stddef.h>

typedef struct request_header {
    const char *name;
    const char *value;
} request_header;

typedef struct signed_request {
    const char *method;
    const char *path;  /* percent-encoded, as on the request line */
    const char *query; /* after '?', percent-encoded, or NULL */
    const request_header *headers;
    size_t header_count;
} signed_request;

#endif
