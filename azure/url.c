/* URL helpers; see url.h. */
#include "url.h"

#include <string.h>

#include "text_bytes.h"

static bool is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

void url_encode_into(buffer *out, const char *text, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (is_unreserved(*p) || (keep_slash && *p == '/')) {
            buffer_append_char(out, (char)*p);
        } else {
            char escaped[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            buffer_append(out, escaped, 3);
        }
    }
}


bool url_decode_into(buffer *out, const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (text[i] != '%') {
            buffer_append_char(out, text[i]);
            continue;
        }
        if (i + 2 >= len)
            return false;
        int hi = hex_digit_value(text[i + 1]);
        int lo = hex_digit_value(text[i + 2]);
        if (hi < 0 || lo < 0)
            return false;
        buffer_append_char(out, (char)(hi * 16 + lo));
        i += 2;
    }
    return true;
}

bool url_split(const char *url, url_parts *parts)
{
    memset(parts, 0, sizeof(*parts));
    const char *sep = strstr(url, "://");
    if (!sep || sep == url)
        return false;
    parts->scheme = url;
    parts->scheme_len = (size_t)(sep - url);
    parts->host = sep + 3;
    parts->host_len = strcspn(parts->host, "/?#");
    if (parts->host_len == 0)
        return false;
    const char *rest = parts->host + parts->host_len;
    if (*rest == '#')
        return false;
    if (*rest == '/') {
        parts->path = rest;
        parts->path_len = strcspn(rest, "?#");
    } else {
        parts->path = "/";
        parts->path_len = 1;
    }
    const char *q = strchr(rest, '?');
    if (q) {
        parts->query = q + 1;
        parts->query_len = strcspn(q + 1, "#");
    }
    return true;
}

static bool host_is_loopback(const url_parts *p)
{
    static const char *const loopback[] = {"127.0.0.1", "localhost", "[::1]"};
    size_t host_len = p->host_len;
    const char *colon = NULL;
    for (size_t i = 0; i < p->host_len; i++)
        if (p->host[i] == ':' && p->host[0] != '[')
            colon = p->host + i;
    if (p->host[0] == '[') {
        const char *end = memchr(p->host, ']', p->host_len);
        if (end)
            host_len = (size_t)(end - p->host) + 1;
    } else if (colon) {
        host_len = (size_t)(colon - p->host);
    }
    for (size_t i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++)
        if (strlen(loopback[i]) == host_len && memcmp(p->host, loopback[i], host_len) == 0)
            return true;
    return false;
}

bool url_is_secure_or_loopback(const url_parts *p)
{
    if (p->scheme_len == 5 && memcmp(p->scheme, "https", 5) == 0)
        return true;
    return p->scheme_len == 4 && memcmp(p->scheme, "http", 4) == 0 && host_is_loopback(p);
}
