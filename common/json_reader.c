/* Strict JSON reading over jsmn; see json_reader.h.
 *
 * check_syntax() reads the text once, front to back and without recursion:
 * the whole grammar, the nesting depth and the exact number of tokens jsmn
 * will make. Only then does jsmn run, once, over text it cannot refuse, into
 * an allocation of that exact size (it never runs out and starts over).
 * Afterwards a backward pass over jsmn's parent links records where each
 * token's subtree ends, so lookups skip values in O(1), and a memchr for
 * backslashes flags the few strings whose text needs decoding. */
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

#define STRINGIFY(x) #x
#define DECIMAL(x) STRINGIFY(x)

typedef struct syntax_fault {
    size_t offset;
    const char *what;
} syntax_fault;

static long fail_at(syntax_fault *fault, size_t offset, const char *what)
{
    fault->offset = offset;
    fault->what = what;
    return -1;
}

static void set_error(char *error, size_t size, size_t offset, const char *what)
{
    if (error && size)
        snprintf(error, size, "invalid JSON at byte %zu: %s", offset, what);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
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

/* Length of the UTF-8 sequence at s (at most n bytes), 0 if malformed:
 * overlong forms, surrogates and code points past U+10FFFF included. */
static size_t utf8_sequence_length(const unsigned char *s, size_t n)
{
    size_t len;
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
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/* Length of the escape at s (at most n bytes, s[0] is the backslash), 0 if
 * it is unknown or a \u escape is short or an unpaired surrogate. */
static size_t escape_length(const char *s, size_t n)
{
    if (n >= 2 && s[1] != '\0' && strchr("\"\\/bfnrt", s[1]))
        return 2;
    if (n < 6 || s[1] != 'u')
        return 0;
    long cp = read_hex4(s + 2);
    if (cp < 0 || (cp >= 0xDC00 && cp <= 0xDFFF))
        return 0;
    if (cp < 0xD800 || cp > 0xDBFF)
        return 6;
    if (n < 12 || s[6] != '\\' || s[7] != 'u')
        return 0;
    long low = read_hex4(s + 8);
    return low >= 0xDC00 && low <= 0xDFFF ? 12 : 0;
}

/* The bytes of w that need a closer look inside a string, each marked by its
 * high bit: quote, backslash, control bytes, anything outside ASCII (the
 * classic "has byte less than" and "has zero byte" word tricks). A borrow
 * can mark a byte after a marked one, never before, so the first mark is
 * exact. */
static uint64_t special_bytes(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    uint64_t control = (w - ones * 0x20) & ~w & highs;
    uint64_t q = w ^ (ones * '"');
    uint64_t quote = (q - ones) & ~q & highs;
    uint64_t b = w ^ (ones * '\\');
    uint64_t backslash = (b - ones) & ~b & highs;
    return (w & highs) | control | quote | backslash;
}

/* Index of the first byte (in memory order) with a bit set in marks (not 0). */
static size_t first_marked_byte(uint64_t marks)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return (size_t)__builtin_clzll(marks) / 8;
#else
    return (size_t)__builtin_ctzll(marks) / 8;
#endif
}

/* Skips blanks; indentation (runs of spaces) eight bytes at a time. */
static size_t skip_space(const char *text, size_t i, size_t length)
{
    const uint64_t spaces = 0x2020202020202020u;
    while (i < length && is_space(text[i])) {
        i++;
        while (length - i >= 8) {
            uint64_t word;
            memcpy(&word, text + i, 8);
            if (word != spaces) {
                i += first_marked_byte(word ^ spaces);
                break;
            }
            i += 8;
        }
    }
    return i;
}

/* Scans the string whose opening quote is at text[*at] and leaves *at after
 * its closing quote: no raw control bytes, known escapes, paired surrogates,
 * valid UTF-8. */
static bool scan_string(const char *text, size_t length, size_t *at, syntax_fault *fault)
{
    size_t i = *at + 1;
    for (;;) {
        if (length - i >= 8) { /* eight bytes at a time to the next one that matters */
            uint64_t word;
            memcpy(&word, text + i, 8);
            uint64_t marks = special_bytes(word);
            if (!marks) {
                i += 8;
                continue;
            }
            i += first_marked_byte(marks);
        }
        if (i == length) {
            fail_at(fault, *at, "unterminated string");
            return false;
        }
        unsigned char c = (unsigned char)text[i];
        size_t n = 1;
        if (c == '"') {
            *at = i + 1;
            return true;
        }
        if (c < 0x20) {
            fail_at(fault, i, "control character in a string");
            return false;
        }
        if (c == '\\' && !(n = escape_length(text + i, length - i))) {
            fail_at(fault, i, "invalid escape in a string");
            return false;
        }
        if (c >= 0x80 && !(n = utf8_sequence_length((const unsigned char *)text + i, length - i))) {
            fail_at(fault, i, "invalid UTF-8 in a string");
            return false;
        }
        i += n;
    }
}

/* Scans a number at text[*at] (RFC 8259: no leading zeros, digits on both
 * sides of '.', an exponent with digits) and leaves *at after it. */
static bool scan_number(const char *text, size_t length, size_t *at)
{
    size_t i = *at;
    if (i < length && text[i] == '-')
        i++;
    if (i < length && text[i] == '0') {
        i++;
    } else if (i < length && text[i] >= '1' && text[i] <= '9') {
        while (i < length && is_digit(text[i]))
            i++;
    } else {
        return false;
    }
    if (i < length && text[i] == '.') {
        size_t digits = ++i;
        while (i < length && is_digit(text[i]))
            i++;
        if (i == digits)
            return false;
    }
    if (i < length && (text[i] == 'e' || text[i] == 'E')) {
        i++;
        if (i < length && (text[i] == '+' || text[i] == '-'))
            i++;
        size_t digits = i;
        while (i < length && is_digit(text[i]))
            i++;
        if (i == digits)
            return false;
    }
    *at = i;
    return true;
}

static bool scan_literal(const char *text, size_t length, size_t *at, const char *literal)
{
    size_t n = strlen(literal);
    if (length - *at < n || memcmp(text + *at, literal, n) != 0)
        return false;
    *at += n;
    return true;
}

/* What the grammar allows at the next non-blank byte. */
typedef enum {
    EXPECT_VALUE,
    EXPECT_NAME,      /* a member name (after '{' or a ',' in an object) */
    EXPECT_SEPARATOR, /* after a value: ',' or the closing bracket, or the end */
} expectation;

/* The number of tokens jsmn makes of text (containers, member names,
 * strings, numbers, literals), or -1 with fault set. Stops at the first
 * fault, so refused input costs no more than its bytes up to there. */
static long check_syntax(const char *text, size_t length, long max_tokens, syntax_fault *fault)
{
    bool in_object[JSON_MAX_DEPTH];
    int depth = 0;
    long tokens = 0;
    expectation next = EXPECT_VALUE;
    size_t i = skip_space(text, 0, length);
    for (;;) {
        if (i == length) {
            if (next == EXPECT_SEPARATOR && depth == 0)
                return tokens;
            return fail_at(fault, length, tokens ? "unexpected end of input" : "no value");
        }
        char c = text[i];
        if (next == EXPECT_SEPARATOR) {
            if (depth == 0)
                return fail_at(fault, i, "unexpected data after value");
            bool object = in_object[depth - 1];
            if (c == ',') {
                next = object ? EXPECT_NAME : EXPECT_VALUE;
            } else if (c == (object ? '}' : ']')) {
                depth--;
            } else {
                return fail_at(fault, i, object ? "expected ',' or '}'" : "expected ',' or ']'");
            }
            i = skip_space(text, i + 1, length);
            continue;
        }
        if (++tokens > max_tokens)
            return fail_at(fault, i, "too many values");
        if (next == EXPECT_NAME && c != '"')
            return fail_at(fault, i, "expected a member name in double quotes");
        if (c == '"') { /* a member name or a string value: scanned in one place */
            if (!scan_string(text, length, &i, fault))
                return -1;
            i = skip_space(text, i, length);
            if (next == EXPECT_NAME) {
                if (i == length || text[i] != ':')
                    return fail_at(fault, i, "expected ':'");
                i = skip_space(text, i + 1, length);
                next = EXPECT_VALUE;
            } else {
                next = EXPECT_SEPARATOR;
            }
            continue;
        }
        size_t start = i;
        bool ok;
        switch (c) {
        case '{':
        case '[':
            if (depth == JSON_MAX_DEPTH)
                return fail_at(fault, i, "nested deeper than " DECIMAL(JSON_MAX_DEPTH) " levels");
            i = skip_space(text, i + 1, length);
            if (i < length && text[i] == (c == '{' ? '}' : ']')) { /* empty */
                i = skip_space(text, i + 1, length);
                next = EXPECT_SEPARATOR;
            } else {
                in_object[depth++] = c == '{';
                next = c == '{' ? EXPECT_NAME : EXPECT_VALUE;
            }
            continue;
        case 't':
            ok = scan_literal(text, length, &i, "true");
            break;
        case 'f':
            ok = scan_literal(text, length, &i, "false");
            break;
        case 'n':
            ok = scan_literal(text, length, &i, "null");
            break;
        default:
            if (c != '-' && !is_digit(c))
                return fail_at(fault, i, "expected a value");
            ok = scan_number(text, length, &i);
            break;
        }
        if (!ok)
            return fail_at(fault, start, "invalid literal or number");
        i = skip_space(text, i, length);
        next = EXPECT_SEPARATOR;
    }
}

/* A document that is one number or literal: jsmn's strict mode wants a
 * delimiter after every primitive and refuses it, so it is made here. */
static void make_lone_primitive(json_document *doc)
{
    size_t start = skip_space(doc->text, 0, doc->length), end = doc->length;
    while (end > start && is_space(doc->text[end - 1]))
        end--;
    doc->tokens[0].t = (jsmntok_t){
        .type = JSMN_PRIMITIVE, .start = (int)start, .end = (int)end, .parent = -1};
}

/* Where each subtree ends: children come after their parents, and the last
 * child, met first going backwards, ends its parent's subtree. A member
 * name's subtree is its value's. */
static void record_subtree_ends(json_document *doc)
{
    const struct json_token *tok = doc->tokens;
    int *end = doc->subtree_end;
    memset(end, 0, sizeof(int) * (size_t)doc->count);
    for (int k = doc->count - 1; k >= 0; k--) {
        if (end[k] == 0)
            end[k] = k + 1;
        int parent = tok[k].t.parent;
        if (parent >= 0 && end[parent] == 0)
            end[parent] = end[k];
    }
}

/* Flags the strings holding a backslash. Valid JSON has backslashes only
 * inside strings, and tokens are in text order, so the first string ending
 * after a backslash holds it. */
static void record_escaped_strings(json_document *doc)
{
    const struct json_token *tok = doc->tokens;
    memset(doc->escaped, 0, (size_t)doc->count);
    const char *backslash = memchr(doc->text, '\\', doc->length);
    for (int k = 0; backslash && k < doc->count; k++) {
        if (tok[k].t.type != JSMN_STRING || doc->text + tok[k].t.end <= backslash)
            continue;
        doc->escaped[k] = 1;
        backslash = memchr(doc->text + tok[k].t.end, '\\', doc->length - (size_t)tok[k].t.end);
    }
}

bool json_document_parse(json_document *doc, const char *text, size_t length, int max_tokens,
                         char *error, size_t error_size)
{
    memset(doc, 0, sizeof(*doc));
    doc->text = text;
    doc->length = length;
    if (length > (size_t)1 << 30) { /* jsmn's offsets are ints */
        set_error(error, error_size, 0, "document too large");
        return false;
    }
    syntax_fault fault;
    long count = check_syntax(text, length, max_tokens < 1 ? 1 : max_tokens, &fault);
    if (count < 0) {
        set_error(error, error_size, fault.offset, fault.what);
        return false;
    }
    /* One block: the tokens, where their subtrees end, their escape flags. */
    size_t n = (size_t)count;
    char *block = malloc(n * (sizeof(struct json_token) + sizeof(int) + 1));
    if (!block) {
        set_error(error, error_size, 0, "out of memory");
        return false;
    }
    doc->tokens = (struct json_token *)block;
    doc->subtree_end = (int *)(block + n * sizeof(struct json_token));
    doc->escaped = (uint8_t *)(doc->subtree_end + n);
    doc->count = (int)count;
    size_t first = skip_space(text, 0, length);
    if (!strchr("{[\"", text[first])) {
        make_lone_primitive(doc);
    } else {
        jsmn_parser parser;
        jsmn_init(&parser);
        int made = jsmn_parse(&parser, text, length, (jsmntok_t *)doc->tokens, (unsigned)count);
        if (made != count) { /* never: the grammar check admits only what jsmn reads */
            set_error(error, error_size, parser.pos, "the tokenizer disagreed with the grammar");
            json_document_free(doc);
            return false;
        }
    }
    record_subtree_ends(doc);
    record_escaped_strings(doc);
    return true;
}

void json_document_free(json_document *doc)
{
    free(doc->tokens);
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
