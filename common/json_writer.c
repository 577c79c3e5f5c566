/* JSON writer; see json_writer.h. */
#include "json_writer.h"

#include <string.h>

#include "text_bytes.h"

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

/* Bytes that go out as they are: printable ASCII other than '"' and '\\'.
 * The scan for the next byte that needs care is the hot loop (a patch is
 * mostly keys and plain values), everything else is rare. */
#define PLAIN(c) ((c) >= 0x20 && (c) < 0x7F && (c) != '"' && (c) != '\\')
#define PLAIN_4(c) PLAIN(c), PLAIN((c) + 1), PLAIN((c) + 2), PLAIN((c) + 3)
#define PLAIN_16(c) PLAIN_4(c), PLAIN_4((c) + 4), PLAIN_4((c) + 8), PLAIN_4((c) + 12)
#define PLAIN_64(c) PLAIN_16(c), PLAIN_16((c) + 16), PLAIN_16((c) + 32), PLAIN_16((c) + 48)
static const bool plain_byte[256] = {PLAIN_64(0), PLAIN_64(64), PLAIN_64(128), PLAIN_64(192)};

/* True when none of the 8 bytes of w needs escaping: no control byte,
 * nothing outside ASCII or DEL, no '"' or '\\' (the "has byte less than"
 * and "has zero byte" word tricks). */
static bool word_is_plain(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    uint64_t control = (w - ones * 0x20) & ~w & highs;
    uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\'), del = w ^ (ones * 0x7F);
    uint64_t special = ((q - ones) & ~q) | ((b - ones) & ~b) | ((del - ones) & ~del);
    return ((w & highs) | control | (special & highs)) == 0;
}

/* Writes the escape for the byte(s) at p into w (room for 6 bytes); returns
 * how many bytes it wrote and sets *taken to how many it consumed. */
static size_t escape_at(const unsigned char *p, size_t avail, char *w, size_t *taken)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char c = p[0];
    *taken = 1;
    switch (c) {
    case '"': memcpy(w, "\\\"", 2); return 2;
    case '\\': memcpy(w, "\\\\", 2); return 2;
    case '\n': memcpy(w, "\\n", 2); return 2;
    case '\r': memcpy(w, "\\r", 2); return 2;
    case '\t': memcpy(w, "\\t", 2); return 2;
    default: break;
    }
    if (c < 0x80) { /* other controls and DEL */
        memcpy(w, "\\u00", 4);
        w[4] = hex[c >> 4];
        w[5] = hex[c & 15];
        return 6;
    }
    size_t n = utf8_sequence_length(p, avail);
    if (n > 0) { /* well-formed UTF-8: verbatim */
        memcpy(w, p, n);
        *taken = n;
        return n;
    }
    memcpy(w, "\xEF\xBF\xBD", 3); /* U+FFFD */
    return 3;
}

void json_escape_into(buffer *out, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    /* Room for the rest as it is plus one escape: the writes below fit.
     * Escapes eat into it, so it is checked again before each. */
    if (!(out->data && buffer_has_room(out, n + 6)) && !buffer_reserve(out, n + 6))
        return;
    for (;;) {
        size_t start = i;
        for (uint64_t word; i + 8 <= n && (memcpy(&word, p + i, 8), word_is_plain(word));)
            i += 8;
        while (i < n && plain_byte[p[i]])
            i++;
        memcpy(out->data + out->len, s + start, i - start);
        out->len += i - start;
        if (i == n)
            break;
        if (!buffer_has_room(out, (n - i) + 6) && !buffer_reserve(out, (n - i) + 6))
            return;
        size_t taken;
        out->len += escape_at(p + i, n - i, out->data + out->len, &taken);
        i += taken;
    }
    out->data[out->len] = '\0';
}

/* Writes open, s and close as one quoted piece when s needs no escaping
 * and fits (member names and most values); false to take the long way. */
static bool write_plain_quoted(buffer *out, const char *s, size_t n, const char *close,
                               size_t close_len)
{
    if (!out->data || !buffer_has_room(out, n + 1 + close_len))
        return false;
    size_t i = 0;
    for (uint64_t word; i + 8 <= n && (memcpy(&word, s + i, 8), word_is_plain(word));)
        i += 8;
    for (; i < n; i++)
        if (!plain_byte[(unsigned char)s[i]])
            return false;
    char *p = out->data + out->len;
    *p++ = '"';
    memcpy(p, s, n);
    memcpy(p + n, close, close_len);
    out->len += n + 1 + close_len;
    out->data[out->len] = '\0';
    return true;
}

void json_key_n(json_writer *w, const char *key, size_t n)
{
    if (w->depth == 0 || w->after_key) {
        w->failed = true;
        return;
    }
    before_value(w);
    if (!write_plain_quoted(w->out, key, n, "\":", 2)) {
        buffer_append_char(w->out, '"');
        json_escape_into(w->out, key, n);
        buffer_append(w->out, "\":", 2);
    }
    w->after_key = true;
}

void json_string_begin(json_writer *w)
{
    before_value(w);
    buffer_append_char(w->out, '"');
}

void json_string_part(json_writer *w, const char *s, size_t n)
{
    json_escape_into(w->out, s, n);
}

void json_string_end(json_writer *w)
{
    buffer_append_char(w->out, '"');
}

void json_string_n(json_writer *w, const char *s, size_t n)
{
    before_value(w);
    if (write_plain_quoted(w->out, s, n, "\"", 1))
        return;
    buffer_append_char(w->out, '"');
    json_escape_into(w->out, s, n);
    buffer_append_char(w->out, '"');
}

void json_int(json_writer *w, int64_t v)
{
    before_value(w);
    if (v < 0)
        buffer_append_char(w->out, '-');
    buffer_append_uint(w->out, v < 0 ? 0 - (uint64_t)v : (uint64_t)v);
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
