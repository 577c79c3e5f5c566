/* JSON writer; see json_writer.h. */
#include "json_writer.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void json_writer_init(json_writer *w, buffer *out)
{
    memset(w, 0, sizeof(*w));
    w->out = out;
}

bool json_writer_finish(const json_writer *w)
{
    return !w->failed && w->depth == 0 && !w->after_key && buffer_ok(w->out);
}

/* Emits the comma that separates this value from the previous one. */
static void before_value(json_writer *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->depth > 0) {
        if (w->has_items[w->depth - 1])
            buffer_append_char(w->out, ',');
        w->has_items[w->depth - 1] = 1;
    }
}

static void open_container(json_writer *w, char c)
{
    before_value(w);
    if (w->depth >= JSON_WRITER_MAX_DEPTH) {
        w->failed = true;
        return;
    }
    w->has_items[w->depth++] = 0;
    buffer_append_char(w->out, c);
}

static void close_container(json_writer *w, char c)
{
    if (w->depth == 0 || w->after_key) {
        w->failed = true;
        return;
    }
    w->depth--;
    buffer_append_char(w->out, c);
}

void json_object_begin(json_writer *w) { open_container(w, '{'); }
void json_object_end(json_writer *w) { close_container(w, '}'); }
void json_array_begin(json_writer *w) { open_container(w, '['); }
void json_array_end(json_writer *w) { close_container(w, ']'); }

/* Number of bytes of the well-formed UTF-8 sequence at s, or 0. */
static size_t utf8_length(const unsigned char *s, size_t n)
{
    size_t len;
    uint32_t cp, min;
    if ((s[0] & 0xE0) == 0xC0)
        len = 2, cp = s[0] & 0x1F, min = 0x80;
    else if ((s[0] & 0xF0) == 0xE0)
        len = 3, cp = s[0] & 0x0F, min = 0x800;
    else if ((s[0] & 0xF8) == 0xF0)
        len = 4, cp = s[0] & 0x07, min = 0x10000;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/* Printable ASCII other than '"' and '\\' goes out as it is: the scan for
 * the next byte that needs care is the hot loop, everything else is rare. */
static bool is_plain(unsigned char c)
{
    return c >= 0x20 && c < 0x7F && c != '"' && c != '\\';
}

void json_escape_into(buffer *out, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t start = i;
        while (i < n && is_plain(p[i]))
            i++;
        buffer_append(out, s + start, i - start);
        if (i == n)
            break;
        unsigned char c = p[i];
        size_t take = 1;
        char hex[8];
        const char *escape;
        if (c == '"')
            escape = "\\\"";
        else if (c == '\\')
            escape = "\\\\";
        else if (c == '\n')
            escape = "\\n";
        else if (c == '\r')
            escape = "\\r";
        else if (c == '\t')
            escape = "\\t";
        else if (c < 0x80) { /* other controls and DEL */
            snprintf(hex, sizeof(hex), "\\u%04x", c);
            escape = hex;
        } else if ((take = utf8_length(p + i, n - i)) > 0) {
            escape = NULL; /* well-formed UTF-8: verbatim */
        } else {
            escape = "\xEF\xBF\xBD"; /* U+FFFD */
            take = 1;
        }
        if (escape)
            buffer_append_str(out, escape);
        else
            buffer_append(out, s + i, take);
        i += take;
    }
}

void json_key(json_writer *w, const char *key)
{
    if (w->depth == 0 || w->after_key) {
        w->failed = true;
        return;
    }
    before_value(w);
    buffer_append_char(w->out, '"');
    json_escape_into(w->out, key, strlen(key));
    buffer_append(w->out, "\":", 2);
    w->after_key = true;
}

void json_string_n(json_writer *w, const char *s, size_t n)
{
    before_value(w);
    buffer_append_char(w->out, '"');
    json_escape_into(w->out, s, n);
    buffer_append_char(w->out, '"');
}

void json_string(json_writer *w, const char *s)
{
    json_string_n(w, s, strlen(s));
}

void json_int(json_writer *w, int64_t v)
{
    before_value(w);
    buffer_appendf(w->out, "%" PRId64, v);
}

void json_bool(json_writer *w, bool v)
{
    before_value(w);
    buffer_append_str(w->out, v ? "true" : "false");
}

void json_null(json_writer *w)
{
    before_value(w);
    buffer_append_str(w->out, "null");
}

void json_raw_value(json_writer *w, const char *text, size_t n)
{
    before_value(w);
    buffer_append(w->out, text, n);
}

void json_member_string(json_writer *w, const char *key, const char *value)
{
    json_key(w, key);
    json_string(w, value);
}

void json_member_int(json_writer *w, const char *key, int64_t value)
{
    json_key(w, key);
    json_int(w, value);
}

void json_member_bool(json_writer *w, const char *key, bool value)
{
    json_key(w, key);
    json_bool(w, value);
}
