/* Parsing an HTTP/1.x request head without copying (picohttpparser's way):
 * the caller owns the buffer and the read loop; the parser returns pointers
 * and lengths into the buffer. Limits are the caller's: it stops reading once
 * the buffer passes its header limit. */
#ifndef HTTP_PARSER_H
#define HTTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_MAX_HEADERS 64

enum {
    HTTP_PARSE_MALFORMED = -1,
    HTTP_PARSE_INCOMPLETE = -2,
    HTTP_PARSE_TOO_MANY_HEADERS = -3,
};

typedef struct http_header {
    const char *name;
    size_t name_len;
    const char *value; /* leading and trailing blanks removed */
    size_t value_len;
} http_header;

typedef struct http_request_head {
    const char *method;
    size_t method_len;
    const char *target; /* origin-form: path and optional query */
    size_t target_len;
    int minor_version; /* HTTP/1.<minor_version> */
    http_header headers[HTTP_MAX_HEADERS];
    size_t header_count;
} http_request_head;

/* Returns the length of the head (request line through the blank line), or a
 * negative HTTP_PARSE_* value. */
int http_parse_request_head(const char *buf, size_t len, http_request_head *head);

/* The value of the only header with this name (case-insensitive); NULL when
 * absent. *duplicate is set when the name appears more than once. */
const http_header *http_find_header(const http_request_head *head, const char *name,
                                   bool *duplicate);
bool http_token_equals(const char *s, size_t n, const char *expected); /* case-insensitive */

/* How a parsed request is framed and what the client asked of the connection. */
typedef struct http_framing {
    size_t body_len;
    bool keep_alive;
    bool head_method;      /* HEAD: the answer has no body */
    bool expects_continue; /* "Expect: 100-continue" */
} http_framing;

/* Reads Content-Length, Connection and Expect. Returns 0, or the HTTP status
 * to refuse the request with (and *message says why): 400 for a bad or
 * repeated Content-Length, 413 over max_body, 417 for another expectation,
 * 501 for Transfer-Encoding (request bodies must have a length). */
int http_request_framing(const http_request_head *head, size_t max_body, http_framing *framing,
                         const char **message);

#endif
