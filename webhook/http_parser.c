/* HTTP/1.x request head parser; see http_parser.h. Strict where it matters
 * for request smuggling: CRLF line endings only, no obsolete line folding,
 * no whitespace between a header name and its colon, token characters only
 * in method and header names, no control bytes in values. */
#include "http_parser.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

static bool is_tchar(unsigned char c)
{
    /* RFC 9110 token characters */
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool is_value_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7F);
}

/* Finds the CRLF that ends the line starting at p; returns the line length or -1/-2. */
static long line_length(const char *p, const char *end)
{
    const char *cr = memchr(p, '\r', (size_t)(end - p));
    const char *lf = memchr(p, '\n', (size_t)(end - p));
    if (lf && (!cr || lf < cr))
        return HTTP_PARSE_MALFORMED; /* bare LF */
    if (!cr)
        return HTTP_PARSE_INCOMPLETE;
    if (cr + 1 >= end)
        return HTTP_PARSE_INCOMPLETE;
    if (cr[1] != '\n')
        return HTTP_PARSE_MALFORMED; /* bare CR */
    return cr - p;
}

static int parse_request_line(const char *p, size_t n, http_request_head *head)
{
    const char *end = p + n;
    const char *sp1 = memchr(p, ' ', n);
    if (!sp1 || sp1 == p)
        return HTTP_PARSE_MALFORMED;
    for (const char *c = p; c < sp1; c++)
        if (!is_tchar((unsigned char)*c))
            return HTTP_PARSE_MALFORMED;
    const char *target = sp1 + 1;
    const char *sp2 = memchr(target, ' ', (size_t)(end - target));
    if (!sp2 || sp2 == target)
        return HTTP_PARSE_MALFORMED;
    for (const char *c = target; c < sp2; c++)
        if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7F)
            return HTTP_PARSE_MALFORMED;
    const char *version = sp2 + 1;
    if (end - version != 8 || memcmp(version, "HTTP/1.", 7) != 0 || version[7] < '0' ||
        version[7] > '9')
        return HTTP_PARSE_MALFORMED;
    head->method = p;
    head->method_len = (size_t)(sp1 - p);
    head->target = target;
    head->target_len = (size_t)(sp2 - target);
    head->minor_version = version[7] - '0';
    return 0;
}

static int parse_header_line(const char *p, size_t n, http_header *h)
{
    const char *end = p + n;
    const char *colon = memchr(p, ':', n);
    if (!colon || colon == p)
        return HTTP_PARSE_MALFORMED;
    for (const char *c = p; c < colon; c++)
        if (!is_tchar((unsigned char)*c))
            return HTTP_PARSE_MALFORMED; /* includes "Name :" and folded lines */
    const char *v = colon + 1;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    const char *ve = end;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
        ve--;
    for (const char *c = v; c < ve; c++)
        if (!is_value_char((unsigned char)*c))
            return HTTP_PARSE_MALFORMED;
    h->name = p;
    h->name_len = (size_t)(colon - p);
    h->value = v;
    h->value_len = (size_t)(ve - v);
    return 0;
}

int http_parse_request_head(const char *buf, size_t len, http_request_head *head)
{
    const char *p = buf;
    const char *end = buf + len;
    head->header_count = 0;

    /* RFC 9112 2.2: ignore at least one empty line before the request line. */
    while (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
        p += 2;
    long n = line_length(p, end);
    if (n < 0)
        return (int)n;
    if (parse_request_line(p, (size_t)n, head) != 0)
        return HTTP_PARSE_MALFORMED;
    p += n + 2;

    for (;;) {
        n = line_length(p, end);
        if (n < 0)
            return (int)n;
        if (n == 0)
            return (int)(p + 2 - buf);
        if (head->header_count == HTTP_MAX_HEADERS)
            return HTTP_PARSE_TOO_MANY_HEADERS;
        if (parse_header_line(p, (size_t)n, &head->headers[head->header_count]) != 0)
            return HTTP_PARSE_MALFORMED;
        head->header_count++;
        p += n + 2;
    }
}

bool http_token_equals(const char *s, size_t n, const char *expected)
{
    return strlen(expected) == n && strncasecmp(s, expected, n) == 0;
}

static bool header_has_token(const http_header *h, const char *token)
{
    /* Comma-separated tokens, as in "Connection: keep-alive, Upgrade". */
    const char *p = h->value;
    const char *end = h->value + h->value_len;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
            p++;
        const char *start = p;
        while (p < end && *p != ',' && *p != ' ' && *p != '\t')
            p++;
        if (http_token_equals(start, (size_t)(p - start), token))
            return true;
    }
    return false;
}

int http_request_framing(const http_request_head *head, size_t max_body, http_framing *framing,
                         const char **message)
{
    bool duplicate;
    memset(framing, 0, sizeof(*framing));
    if (http_find_header(head, "Transfer-Encoding", NULL)) {
        *message = "chunked request bodies are not supported: send Content-Length";
        return 501;
    }
    const http_header *length = http_find_header(head, "Content-Length", &duplicate);
    if (length) {
        uint64_t n = 0;
        bool digits = length->value_len > 0 && length->value_len <= 15 && !duplicate;
        for (size_t i = 0; digits && i < length->value_len; i++) {
            digits = length->value[i] >= '0' && length->value[i] <= '9';
            n = n * 10 + (uint64_t)(length->value[i] - '0');
        }
        if (!digits) {
            *message = "Content-Length must appear once, as a decimal number";
            return 400;
        }
        if (n > max_body) {
            *message = "request body over the size limit";
            return 413;
        }
        framing->body_len = (size_t)n;
    }
    const http_header *connection = http_find_header(head, "Connection", NULL);
    if (head->minor_version == 0)
        framing->keep_alive = connection && header_has_token(connection, "keep-alive");
    else
        framing->keep_alive = !(connection && header_has_token(connection, "close"));
    framing->head_method = head->method_len == 4 && memcmp(head->method, "HEAD", 4) == 0;
    const http_header *expect = http_find_header(head, "Expect", NULL);
    if (expect) {
        if (!http_token_equals(expect->value, expect->value_len, "100-continue")) {
            *message = "only \"Expect: 100-continue\" is supported";
            return 417;
        }
        framing->expects_continue = true;
    }
    return 0;
}

const http_header *http_find_header(const http_request_head *head, const char *name,
                                    bool *duplicate)
{
    const http_header *found = NULL;
    if (duplicate)
        *duplicate = false;
    for (size_t i = 0; i < head->header_count; i++) {
        const http_header *h = &head->headers[i];
        if (!http_token_equals(h->name, h->name_len, name))
            continue;
        if (found && duplicate)
            *duplicate = true;
        if (!found)
            found = h;
    }
    return found;
}
