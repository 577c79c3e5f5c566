/* Lookups over a parsed document (json_reader.c parses): types, members,
 * iteration in O(1) per step through the recorded subtree ends, strings
 * compared and copied decoded, integers read with range checks. */
#include "json_tokens.h"

#include "json_reader.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text_bytes.h"

static const jsmntok_t *token_at(const json_document *doc, int token)
{
    if (token < 0 || token >= doc->count)
        return NULL;
    return &doc->tokens[token].t;
}

json_type json_type_of(const json_document *doc, int token)
{
    const jsmntok_t *t = token_at(doc, token);
    if (!t)
        return JSON_NONE;
    switch (t->type) {
    case JSMN_OBJECT:
        return JSON_OBJECT;
    case JSMN_ARRAY:
        return JSON_ARRAY;
    case JSMN_STRING:
        return JSON_STRING;
    case JSMN_PRIMITIVE:
        switch (doc->text[t->start]) {
        case 't':
            return JSON_TRUE;
        case 'f':
            return JSON_FALSE;
        case 'n':
            return JSON_NULL;
        default:
            return JSON_NUMBER;
        }
    default:
        return JSON_NONE;
    }
}

int json_next(const json_document *doc, int token)
{
    if (!token_at(doc, token))
        return doc->count;
    return doc->subtree_end[token];
}

int json_length(const json_document *doc, int container)
{
    json_type type = json_type_of(doc, container);
    return type == JSON_OBJECT || type == JSON_ARRAY ? doc->tokens[container].t.size : 0;
}

json_iterator json_iterate(const json_document *doc, int container)
{
    json_iterator it = {doc, container + 1, json_length(doc, container)};
    return it;
}

bool json_iterator_next(json_iterator *it, int *item)
{
    if (it->remaining <= 0)
        return false;
    *item = it->next;
    it->next = json_next(it->doc, it->next);
    it->remaining--;
    return true;
}

/* Decodes one character of a string at *i, writing UTF-8 into out (4 bytes). */
static int decode_char(const char *text, int *i, char out[4])
{
    char c = text[*i];
    if (c != '\\') {
        out[0] = c;
        (*i)++;
        return 1;
    }
    char e = text[*i + 1];
    *i += 2;
    switch (e) {
    case 'b':
        out[0] = '\b';
        return 1;
    case 'f':
        out[0] = '\f';
        return 1;
    case 'n':
        out[0] = '\n';
        return 1;
    case 'r':
        out[0] = '\r';
        return 1;
    case 't':
        out[0] = '\t';
        return 1;
    case 'u':
        break;
    default:
        out[0] = e;
        return 1;
    }
    /* validate() guaranteed four hex digits and paired surrogates. */
    unsigned long cp = (unsigned long)hex4_value(text + *i);
    *i += 4;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        unsigned long low = (unsigned long)hex4_value(text + *i + 2);
        *i += 6;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Compares the decoded string with expected[0..n); prefix allows a longer string. */
/* Whether string token equals (or, with prefix, starts with) expected, of
 * want bytes. Text without escapes is its own decoded form: one memcmp. */
static bool string_matches(const json_document *doc, int token, const char *expected,
                           size_t want, bool prefix)
{
    const jsmntok_t *t = token_at(doc, token);
    if (!t || t->type != JSMN_STRING)
        return false;
    size_t have = (size_t)(t->end - t->start);
    if (have < want) /* escapes only make the decoded string shorter */
        return false;
    if (!doc->escaped[token])
        return (prefix || have == want) && memcmp(doc->text + t->start, expected, want) == 0;
    size_t at = 0;
    int i = t->start;
    while (i < t->end) {
        char out[4];
        int n = decode_char(doc->text, &i, out);
        for (int j = 0; j < n; j++, at++) {
            if (at >= want)
                return prefix;
            if (out[j] != expected[at])
                return false;
        }
    }
    return at == want;
}

bool json_string_matches_n(const json_document *doc, int token, const char *expected, size_t n,
                           bool prefix)
{
    return string_matches(doc, token, expected, n, prefix);
}

int json_object_get_n(const json_document *doc, int object, const char *key, size_t key_len)
{
    if (json_type_of(doc, object) != JSON_OBJECT)
        return -1;
    json_iterator it = json_iterate(doc, object);
    int k;
    while (json_iterator_next(&it, &k))
        if (string_matches(doc, k, key, key_len, false))
            return k + 1;
    return -1;
}

int json_lookup(const json_document *doc, int from, ...)
{
    va_list ap;
    va_start(ap, from);
    int at = from;
    const char *key;
    while (at >= 0 && (key = va_arg(ap, const char *)) != NULL)
        at = json_object_get(doc, at, key);
    va_end(ap);
    return at;
}

long json_string_length(const json_document *doc, int token)
{
    const jsmntok_t *t = token_at(doc, token);
    if (!t || t->type != JSMN_STRING)
        return -1;
    if (!doc->escaped[token])
        return t->end - t->start;
    long len = 0;
    int i = t->start;
    while (i < t->end) {
        char out[4];
        len += decode_char(doc->text, &i, out);
    }
    return len;
}

char *json_string_dup(const json_document *doc, int token)
{
    long len = json_string_length(doc, token);
    if (len < 0)
        return NULL;
    char *s = malloc((size_t)len + 1);
    if (!s)
        return NULL;
    const jsmntok_t *t = token_at(doc, token);
    if (!doc->escaped[token]) { /* no escapes, so no "\u0000" either */
        memcpy(s, doc->text + t->start, (size_t)len);
        s[len] = '\0';
        return s;
    }
    size_t at = 0;
    int i = t->start;
    while (i < t->end) {
        char out[4];
        int n = decode_char(doc->text, &i, out);
        memcpy(s + at, out, (size_t)n);
        at += (size_t)n;
    }
    s[at] = '\0';
    if (strlen(s) != at) { /* "\u0000" inside: not representable as a C string */
        free(s);
        return NULL;
    }
    return s;
}

bool json_read_int64(const json_document *doc, int token, int64_t min, int64_t max, int64_t *out)
{
    if (json_type_of(doc, token) != JSON_NUMBER)
        return false;
    const jsmntok_t *t = token_at(doc, token);
    const char *s = doc->text + t->start;
    int n = t->end - t->start;
    bool negative = s[0] == '-';
    int i = negative ? 1 : 0;
    uint64_t magnitude = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false; /* fraction or exponent: not an integer */
        unsigned digit = (unsigned)(s[i] - '0');
        if (magnitude > (UINT64_MAX - digit) / 10)
            return false;
        magnitude = magnitude * 10 + digit;
    }
    int64_t value;
    if (negative) {
        if (magnitude > (uint64_t)INT64_MAX + 1)
            return false;
        value = magnitude == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)magnitude;
    } else {
        if (magnitude > (uint64_t)INT64_MAX)
            return false;
        value = (int64_t)magnitude;
    }
    if (value < min || value > max)
        return false;
    *out = value;
    return true;
}

bool json_is_true(const json_document *doc, int token)
{
    return json_type_of(doc, token) == JSON_TRUE;
}

/* Where a token's own text starts and ends (strings including quotes). */
static int raw_start(const jsmntok_t *t)
{
    return t->type == JSMN_STRING ? t->start - 1 : t->start;
}

static int raw_end(const jsmntok_t *t)
{
    return t->type == JSMN_STRING ? t->end + 1 : t->end;
}

void json_raw(const json_document *doc, int token, const char **start, size_t *length)
{
    const jsmntok_t *t = token_at(doc, token);
    if (!t) {
        *start = "";
        *length = 0;
        return;
    }
    *start = doc->text + raw_start(t);
    *length = (size_t)(raw_end(t) - raw_start(t));
}
