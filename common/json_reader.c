/* Strict JSON reading over jsmn; see json_reader.h.
 *
 * jsmn (strict mode, parent links) finds the tokens. It does not check what
 * lies between them, so `[1 2]`, `{"a":1,}` and `{"a":1}{}` parse; nor does it
 * check number grammar, raw control bytes in strings or UTF-8. The validation
 * pass below checks all of that in one walk over the tokens, without
 * recursion, and records where each token's subtree ends so lookups skip
 * values in O(1). */
#define JSMN_STRICT
#define JSMN_PARENT_LINKS
#define JSMN_STATIC
#include <jsmn.h>

#include "json_reader.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct json_token {
    jsmntok_t t;
};

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
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

static void set_error(char *error, size_t size, size_t offset, const char *what)
{
    if (error && size)
        snprintf(error, size, "invalid JSON at byte %zu: %s", offset, what);
}

/* The bytes between two tokens must be whitespace around at most one separator. */
static bool gap_is(const char *text, int from, int to, char separator)
{
    bool seen = separator == 0;
    for (int i = from; i < to; i++) {
        if (is_space(text[i]))
            continue;
        if (!seen && text[i] == separator) {
            seen = true;
            continue;
        }
        return false;
    }
    return seen;
}

static bool number_is_valid(const char *s, int n)
{
    int i = 0;
    if (i < n && s[i] == '-')
        i++;
    if (i >= n)
        return false;
    if (s[i] == '0') {
        i++;
    } else if (s[i] >= '1' && s[i] <= '9') {
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    } else {
        return false;
    }
    if (i < n && s[i] == '.') {
        i++;
        int digits = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == digits)
            return false;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        int digits = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == digits)
            return false;
    }
    return i == n;
}

static bool primitive_is_valid(const char *s, int n)
{
    if ((n == 4 && !memcmp(s, "true", 4)) || (n == 5 && !memcmp(s, "false", 5)) ||
        (n == 4 && !memcmp(s, "null", 4)))
        return true;
    return number_is_valid(s, n);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static long read_hex4(const char *s)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hex_value(s[i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* Length of the UTF-8 sequence at s (at most n bytes), 0 if malformed. */
static int utf8_sequence_length(const unsigned char *s, int n)
{
    if (s[0] < 0x80)
        return 1;
    int len;
    unsigned min;
    unsigned cp;
    if ((s[0] & 0xE0) == 0xC0) {
        len = 2, min = 0x80, cp = s[0] & 0x1F;
    } else if ((s[0] & 0xF0) == 0xE0) {
        len = 3, min = 0x800, cp = s[0] & 0x0F;
    } else if ((s[0] & 0xF8) == 0xF0) {
        len = 4, min = 0x10000, cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/* True when none of the 8 bytes of w needs a closer look: no control byte,
 * nothing outside ASCII, no backslash (the classic "has byte less than"
 * and "has zero byte" word tricks). */
static bool word_is_plain(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    uint64_t control = (w - ones * 0x20) & ~w & highs;
    uint64_t x = w ^ (ones * '\\');
    uint64_t backslash = (x - ones) & ~x & highs;
    return ((w & highs) | control | backslash) == 0;
}

/* Checks string contents: no raw control bytes, valid escapes with paired
 * surrogates, valid UTF-8. Returns the offset of the first fault or -1, and
 * says whether there were escapes. */
static int string_fault(const char *text, int start, int end, uint8_t *has_escapes)
{
    int i = start;
    *has_escapes = 0;
    while (i < end) {
        uint64_t word;
        if (end - i >= 8 && (memcpy(&word, text + i, 8), word_is_plain(word))) {
            i += 8; /* strings are mostly plain ASCII: eight bytes at a time */
            continue;
        }
        unsigned char c = (unsigned char)text[i];
        if (c >= 0x20 && c < 0x80 && c != '\\') { /* the common case, checked first */
            i++;
            continue;
        }
        if (c < 0x20)
            return i;
        if (c == '\\') {
            *has_escapes = 1;
            if (i + 1 >= end)
                return i;
            char e = text[i + 1];
            if (e == 'u') {
                if (i + 6 > end)
                    return i;
                long cp = read_hex4(text + i + 2);
                if (cp < 0)
                    return i;
                i += 6;
                if (cp >= 0xDC00 && cp <= 0xDFFF)
                    return i - 6;
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (i + 6 > end || text[i] != '\\' || text[i + 1] != 'u')
                        return i - 6;
                    long low = read_hex4(text + i + 2);
                    if (low < 0xDC00 || low > 0xDFFF)
                        return i - 6;
                    i += 6;
                }
                continue;
            }
            if (!strchr("\"\\/bfnrt", e) || e == '\0')
                return i;
            i += 2;
            continue;
        }
        int n = utf8_sequence_length((const unsigned char *)text + i, end - i);
        if (n == 0)
            return i;
        i += n;
    }
    return -1;
}

/* jsmn's strict mode wants a delimiter after every primitive, so it refuses
 * a document that is just `0` or `true`; such a document is one token. */
static int lone_primitive(json_document *doc, char *error, size_t error_size)
{
    size_t start = 0, end = doc->length;
    while (start < end && is_space(doc->text[start]))
        start++;
    if (start == end || strchr("{[\"", doc->text[start]))
        return 0; /* not a lone primitive: jsmn's job */
    while (end > start && is_space(doc->text[end - 1]))
        end--;
    if (!primitive_is_valid(doc->text + start, (int)(end - start))) {
        set_error(error, error_size, start, "invalid literal or number");
        return -1;
    }
    jsmntok_t *t = calloc(1, sizeof(jsmntok_t));
    if (!t) {
        set_error(error, error_size, 0, "out of memory");
        return -1;
    }
    *t = (jsmntok_t){.type = JSMN_PRIMITIVE, .start = (int)start, .end = (int)end, .parent = -1};
    doc->tokens = (struct json_token *)t;
    doc->count = 1;
    return 1;
}

static bool run_jsmn(json_document *doc, int max_tokens, char *error, size_t error_size)
{
    int lone = lone_primitive(doc, error, error_size);
    if (lone != 0)
        return lone > 0;
    jsmn_parser parser;
    jsmn_init(&parser);
    /* Room for a typical density (a token per ten bytes or so) at once:
     * every regrowth re-runs part of the parse. */
    size_t guess = doc->length / 8 + 16;
    int capacity = guess < (size_t)max_tokens ? (int)guess : max_tokens;
    for (;;) {
        jsmntok_t *grown = realloc(doc->tokens, sizeof(jsmntok_t) * (size_t)capacity);
        if (!grown) {
            set_error(error, error_size, 0, "out of memory");
            return false;
        }
        doc->tokens = (struct json_token *)grown;
        int r = jsmn_parse(&parser, doc->text, doc->length, grown, (unsigned)capacity);
        if (r >= 0) {
            doc->count = r;
            return true;
        }
        if (r == JSMN_ERROR_NOMEM && capacity < max_tokens) {
            capacity = capacity > max_tokens / 2 ? max_tokens : capacity * 2;
            continue;
        }
        if (r == JSMN_ERROR_NOMEM)
            set_error(error, error_size, parser.pos, "too many values");
        else if (r == JSMN_ERROR_PART)
            set_error(error, error_size, doc->length, "unexpected end of input");
        else
            set_error(error, error_size, parser.pos, "unexpected character");
        return false;
    }
}

/* The one validation walk. last_child[] becomes subtree_end[] at the end. */
static bool validate(json_document *doc, char *error, size_t error_size)
{
    const char *text = doc->text;
    jsmntok_t *tok = (jsmntok_t *)doc->tokens;
    int n = doc->count;
    /* One block: subtree ends (as last children while walking), then the
     * escape flags that let string comparisons skip decoding. */
    int *last_child = malloc((sizeof(int) + 1) * (size_t)n);
    if (!last_child) {
        set_error(error, error_size, 0, "out of memory");
        return false;
    }
    uint8_t *escaped = (uint8_t *)(last_child + n);
    for (int i = 0; i < n; i++)
        last_child[i] = -1;

#define FAIL(offset, what)                                                                         \
    do {                                                                                           \
        set_error(error, error_size, (size_t)(offset), what);                                      \
        free(last_child);                                                                          \
        return false;                                                                              \
    } while (0)
/* End of a token's subtree in the text: a key's subtree ends with its value. */
#define SUBTREE_TEXT_END(k)                                                                        \
    (tok[k].type == JSMN_STRING && tok[k].size == 1 && last_child[k] >= 0                          \
         ? raw_end(&tok[last_child[k]])                                                            \
         : raw_end(&tok[k]))

    if (!gap_is(text, 0, raw_start(&tok[0]), 0))
        FAIL(0, "unexpected character before value");
    for (int k = 0; k < n; k++) {
        const jsmntok_t *t = &tok[k];
        int parent = t->parent;
        if (t->type == JSMN_PRIMITIVE && !primitive_is_valid(text + t->start, t->end - t->start))
            FAIL(t->start, "invalid literal or number");
        if (t->type == JSMN_STRING) {
            int fault = string_fault(text, t->start, t->end, &escaped[k]);
            if (fault >= 0)
                FAIL(fault, "invalid string contents");
        } else {
            escaped[k] = 0;
        }
        if ((t->type == JSMN_OBJECT || t->type == JSMN_ARRAY) && t->end < 0)
            FAIL(doc->length, "unterminated container");
        if (k == 0)
            continue;
        if (parent < 0)
            FAIL(raw_start(t), "more than one top-level value");
        const jsmntok_t *p = &tok[parent];
        bool is_key = p->type == JSMN_OBJECT;
        if (is_key && (t->type != JSMN_STRING || t->size != 1))
            FAIL(raw_start(t), "expected a member name followed by ':'");
        if (!is_key && t->type == JSMN_STRING && t->size != 0)
            FAIL(raw_start(t), "unexpected ':'");
        int prev = last_child[parent];
        if (p->type == JSMN_STRING) {
            if (prev >= 0)
                FAIL(raw_start(t), "member has more than one value");
            if (!gap_is(text, raw_end(p), raw_start(t), ':'))
                FAIL(raw_end(p), "expected ':'");
        } else if (prev < 0) {
            if (!gap_is(text, p->start + 1, raw_start(t), 0))
                FAIL(p->start + 1, "unexpected character");
        } else if (!gap_is(text, SUBTREE_TEXT_END(prev), raw_start(t), ',')) {
            FAIL(SUBTREE_TEXT_END(prev), "expected ','");
        }
        last_child[parent] = k;
    }
    /* Closing side of every container, and keys that never got a value. */
    for (int k = 0; k < n; k++) {
        const jsmntok_t *t = &tok[k];
        if (t->type == JSMN_STRING && t->size == 1 && last_child[k] < 0)
            FAIL(raw_end(t), "member without a value");
        if (t->type != JSMN_OBJECT && t->type != JSMN_ARRAY)
            continue;
        int from = last_child[k] < 0 ? t->start + 1 : SUBTREE_TEXT_END(last_child[k]);
        if (!gap_is(text, from, t->end - 1, 0))
            FAIL(from, "unexpected character before end of container");
    }
    if (!gap_is(text, SUBTREE_TEXT_END(0), (int)doc->length, 0))
        FAIL(SUBTREE_TEXT_END(0), "unexpected data after value");
#undef SUBTREE_TEXT_END
#undef FAIL

    /* Children have higher indexes than parents, so a backward pass can turn
     * "last child" into "first token after the subtree". */
    for (int k = n - 1; k >= 0; k--)
        last_child[k] = last_child[k] < 0 ? k + 1 : last_child[last_child[k]];
    doc->subtree_end = last_child;
    doc->escaped = escaped;
    return true;
}

bool json_document_parse(json_document *doc, const char *text, size_t length, int max_tokens,
                         char *error, size_t error_size)
{
    memset(doc, 0, sizeof(*doc));
    doc->text = text;
    doc->length = length;
    if (length > (size_t)1 << 30) {
        set_error(error, error_size, 0, "document too large");
        return false;
    }
    if (!run_jsmn(doc, max_tokens < 1 ? 1 : max_tokens, error, error_size))
        goto error;
    if (doc->count == 0) {
        set_error(error, error_size, length, "no value");
        goto error;
    }
    if (!validate(doc, error, error_size))
        goto error;
    return true;
error:
    json_document_free(doc);
    return false;
}

void json_document_free(json_document *doc)
{
    free(doc->tokens);
    free(doc->subtree_end);
    doc->tokens = NULL;
    doc->subtree_end = NULL;
    doc->escaped = NULL;
    doc->count = 0;
}

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
    unsigned long cp = (unsigned long)read_hex4(text + *i);
    *i += 4;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        unsigned long low = (unsigned long)read_hex4(text + *i + 2);
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

bool json_string_equals(const json_document *doc, int token, const char *expected)
{
    return string_matches(doc, token, expected, strlen(expected), false);
}

bool json_string_has_prefix(const json_document *doc, int token, const char *prefix)
{
    return string_matches(doc, token, prefix, strlen(prefix), true);
}

int json_object_get(const json_document *doc, int object, const char *key)
{
    if (json_type_of(doc, object) != JSON_OBJECT)
        return -1;
    size_t key_len = strlen(key);
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
