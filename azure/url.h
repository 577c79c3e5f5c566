/* Percent-encoding for URL paths and query values (RFC 3986), and decoding
 * for the canonicalized resource of Shared Key signatures. */
#ifndef URL_H
#define URL_H

#include <stdbool.h>
#include <stddef.h>

#include "buffer.h"

/* Encodes everything but unreserved characters; keep_slash leaves '/' as is
 * (for paths). */
void url_encode_into(buffer *out, const char *text, bool keep_slash);
/* Decodes %XX escapes ('+' stays '+', as Azure reads query values). False on
 * a malformed escape. */
bool url_decode_into(buffer *out, const char *text, size_t len);

/* Splits an absolute URL: scheme://host[:port]/path?query. Pointers into url. */
typedef struct url_parts {
    const char *scheme;
    size_t scheme_len;
    const char *host; /* host[:port] */
    size_t host_len;
    const char *path; /* "/" when the URL has none */
    size_t path_len;
    const char *query; /* after '?', or NULL */
    size_t query_len;
} url_parts;

bool url_split(const char *url, url_parts *parts);
/* https, or http to a loopback address (emulators): the only URLs that may
 * carry credentials. */
bool url_is_secure_or_loopback(const url_parts *parts);

#endif
