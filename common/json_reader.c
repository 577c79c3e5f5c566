/* Strict JSON reading over jsmn; see json_reader.h.
 *
 * check_syntax() reads the text once, front to back and without recursion:
 * the whole grammar, the nesting depth and the exact number of tokens jsmn
 * will make. Only then does jsmn run, once, over text it cannot refuse, into
 * an allocation of that exact size (it never runs out and starts over).
 * Afterwards a backward pass over jsmn's parent links records where each
 * token's subtree ends, so lookups skip values in O(1), and a memchr for
 * backslashes flags the few strings whose text needs decoding. The lookups
 * over a parsed document are in json_lookup.c. */
#define JSON_TOKENS_WITH_PARSER
#include "json_tokens.h"

#include "json_reader.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text_bytes.h"

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



/* Length of the escape at s (at most n bytes, s[0] is the backslash), 0 if
 * it is unknown or a \u escape is short or an unpaired surrogate. */
static size_t escape_length(const char *s, size_t n)
{
    if (n >= 2 && s[1] != '\0' && strchr("\"\\/bfnrt", s[1]))
        return 2;
    if (n < 6 || s[1] != 'u')
        return 0;
    long cp = hex4_value(s + 2);
    if (cp < 0 || (cp >= 0xDC00 && cp <= 0xDFFF))
        return 0;
    if (cp < 0xD800 || cp > 0xDBFF)
        return 6;
    if (n < 12 || s[6] != '\\' || s[7] != 'u')
        return 0;
    long low = hex4_value(s + 8);
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
