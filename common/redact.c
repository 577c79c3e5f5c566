/* Secret redaction; see redact.h.
 *
 * Two kinds of secret. Values the program registered (keys, passwords,
 * tokens), masked wherever they occur, as written and as a JSON string
 * carries them (a quote, backslash or newline in it is escaped there), and
 * line by line when they hold newlines (output is printed a line at a time,
 * and a file's tail may start in the middle of one). And values named by
 * what comes before them (patterns: "sig=", "AccountKey=", "Bearer ", a
 * URL's password, ...), matched case-insensitively on the name; a value runs
 * until a delimiter that ends it in URLs, headers, connection strings, or
 * the closing quote of a JSON string.
 *
 * Clean text costs one table lookup per byte: a bitmap of the byte pairs
 * that can start a pattern or a registered secret. Only where it says yes
 * are candidates compared: the patterns, and the registered secrets that
 * start with that byte, longest first, so "pa\\"ss" wins over "pa". */
#include "redact.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json_writer.h"

#define MIN_SECRET_LENGTH 4 /* shorter values would mask ordinary text */

typedef struct secret {
    char *text;
    size_t len;
    size_t next; /* 1 + index of the next secret with the same first byte, 0: none */
} secret;

static secret *secrets;
static size_t secret_count, secret_capacity;
static size_t chain_head[256]; /* 1 + index of the longest secret starting with this byte */
static uint8_t pair_may_start[65536 / 8];
static pthread_once_t patterns_once = PTHREAD_ONCE_INIT;

/* The two bytes at text as one number (in memory order: one 16-bit load). */
static unsigned pair_index(const char *text)
{
    uint16_t pair;
    memcpy(&pair, text, 2);
    return pair;
}

static void mark_pair(char first, char second)
{
    unsigned index = pair_index((const char[]){first, second});
    pair_may_start[index >> 3] |= (uint8_t)(1u << (index & 7));
}

static bool pair_is_marked(const char *text)
{
    unsigned index = pair_index(text);
    return pair_may_start[index >> 3] & (1u << (index & 7));
}

/* ---- patterns --------------------------------------------------------- */

typedef enum {
    TO_DELIMITER, /* the value runs until one of `ends` */
    JSON_STRING,  /* the value is the rest of a JSON string */
    AFTER_COLON,  /* "SharedKey account:signature": the account stays (it helps debugging) */
    URL_PASSWORD, /* "scheme://user:password@host": the password */
} value_rule;

static const struct {
    const char *name;
    value_rule rule;
    const char *ends;
} patterns[] = {
    {"sig=", TO_DELIMITER, "&\"' \t\r\n<>"},            /* SAS signature in a URL */
    {"AccountKey=", TO_DELIMITER, ";\"' \t\r\n"},       /* storage connection string */
    {"SharedKey ", AFTER_COLON, "\"' \t\r\n,"},         /* Authorization: SharedKey acct:sig */
    {"Bearer ", TO_DELIMITER, "\"' \t\r\n,"},           /* Authorization: Bearer token */
    {"client_secret=", TO_DELIMITER, "&\"' \t\r\n"},    /* Entra ID token request */
    {"client_assertion=", TO_DELIMITER, "&\"' \t\r\n"}, /* workload identity token request */
    {"\"access_token\":\"", JSON_STRING, NULL},         /* token response */
    {"\"password\":\"", JSON_STRING, NULL},             /* registry credentials in JSON */
    {"\"auth\":\"", JSON_STRING, NULL},                 /* docker config: base64 user:password */
    /* Any scheme. The password runs to the last '@' before a blank, a quote
     * or '<>': '/' is allowed, since base64 keys pasted unencoded carry it. */
    {"://", URL_PASSWORD, NULL}, /* ends_url_user, ends_url_password */
};
#define PATTERN_COUNT (sizeof(patterns) / sizeof(patterns[0]))

static char ascii_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static char ascii_upper(char c)
{
    return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

static void mark_pattern_pairs(void)
{
    for (size_t p = 0; p < PATTERN_COUNT; p++) {
        char a = patterns[p].name[0], b = patterns[p].name[1];
        mark_pair(ascii_lower(a), ascii_lower(b));
        mark_pair(ascii_lower(a), ascii_upper(b));
        mark_pair(ascii_upper(a), ascii_lower(b));
        mark_pair(ascii_upper(a), ascii_upper(b));
    }
}

static bool ends_value(const char *ends, char c)
{
    return c == '\0' || strchr(ends, c) != NULL;
}

/* What ends a URL's password, and (with ":@/?#") its user name. */
static const bool ends_url_password[256] = {
    ['\0'] = 1, ['"'] = 1, ['\''] = 1, [' '] = 1, ['\t'] = 1, ['\r'] = 1, ['\n'] = 1, ['<'] = 1, ['>'] = 1,
};
static const bool ends_url_user[256] = {
    ['\0'] = 1, ['"'] = 1, ['\''] = 1, [' '] = 1, ['\t'] = 1, ['\r'] = 1, ['\n'] = 1, ['<'] = 1, ['>'] = 1,
    [':'] = 1, ['@'] = 1, ['/'] = 1, ['?'] = 1, ['#'] = 1,
};

/* Where the value of pattern p, whose name ends at `from`, lies in text:
 * [*value, *end). False when this is not such a value after all. */
static bool pattern_value(size_t p, const char *text, size_t from, size_t len, size_t *value,
                          size_t *end)
{
    const char *ends = patterns[p].ends;
    size_t i = from;
    switch (patterns[p].rule) {
    case TO_DELIMITER:
        break;
    case JSON_STRING:
        while (i < len && text[i] != '"')
            i += text[i] == '\\' && i + 1 < len ? 2 : 1;
        *value = from;
        *end = i < len ? i : len;
        return true;
    case AFTER_COLON:
        while (i < len && text[i] != ':' && !ends_value(ends, text[i]))
            i++;
        if (i < len && text[i] == ':')
            from = ++i;
        break;
    case URL_PASSWORD: {
        while (i < len && !ends_url_user[(unsigned char)text[i]])
            i++; /* the user name */
        if (i == len || text[i] != ':')
            return false;
        size_t password = i + 1, at = 0;
        for (i = password; i < len && !ends_url_password[(unsigned char)text[i]]; i++)
            if (text[i] == '@')
                at = i;
        if (!at)
            return false;
        *value = password;
        *end = at;
        return true;
    }
    }
    while (i < len && !ends_value(ends, text[i]))
        i++;
    *value = from;
    *end = i;
    return true;
}

/* The pattern at text[at], with its value; false if none starts there. */
static bool pattern_at(const char *text, size_t at, size_t len, size_t *value, size_t *end)
{
    char first = ascii_lower(text[at]);
    for (size_t p = 0; p < PATTERN_COUNT; p++) {
        if (ascii_lower(patterns[p].name[0]) != first)
            continue;
        size_t n = strlen(patterns[p].name);
        if (n <= len - at && strncasecmp(text + at, patterns[p].name, n) == 0 &&
            pattern_value(p, text, at + n, len, value, end))
            return true;
    }
    return false;
}

/* ---- registered secrets ------------------------------------------------ */

/* Adds a secret to its first byte's chain, which stays longest first. */
static void add_secret(const char *value, size_t len)
{
    if (len < MIN_SECRET_LENGTH)
        return;
    if (secret_count == secret_capacity) { /* first: the chain links point into the array */
        size_t capacity = secret_capacity ? secret_capacity * 2 : 16;
        secret *grown = realloc(secrets, capacity * sizeof(*secrets));
        if (!grown)
            return;
        secrets = grown;
        secret_capacity = capacity;
    }
    size_t *link = &chain_head[(unsigned char)value[0]];
    for (; *link && secrets[*link - 1].len >= len; link = &secrets[*link - 1].next)
        if (secrets[*link - 1].len == len && memcmp(secrets[*link - 1].text, value, len) == 0)
            return; /* known already */
    char *copy = strndup(value, len);
    if (!copy)
        return;
    secrets[secret_count] = (secret){.text = copy, .len = len, .next = *link};
    *link = ++secret_count;
    mark_pair(value[0], value[1]);
}

/* Adds the value and the form a JSON string gives it. */
static void add_secret_forms(const char *value, size_t len)
{
    add_secret(value, len);
    buffer escaped;
    buffer_init(&escaped, 0);
    json_escape_into(&escaped, value, len);
    if (buffer_ok(&escaped))
        add_secret(buffer_cstr(&escaped), escaped.len);
    buffer_free(&escaped);
}

void redact_register_secret(const char *value)
{
    pthread_once(&patterns_once, mark_pattern_pairs);
    if (!value)
        return;
    size_t len = strlen(value);
    add_secret_forms(value, len);
    if (!memchr(value, '\n', len))
        return;
    for (const char *line = value; *line;) {
        size_t n = strcspn(line, "\n");
        add_secret_forms(line, n > 0 && line[n - 1] == '\r' ? n - 1 : n);
        line += n + (line[n] == '\n');
    }
}

void redact_forget_secrets(void)
{
    for (size_t i = 0; i < secret_count; i++)
        free(secrets[i].text);
    free(secrets);
    secrets = NULL;
    secret_count = secret_capacity = 0;
    memset(chain_head, 0, sizeof(chain_head));
    memset(pair_may_start, 0, sizeof(pair_may_start));
    mark_pattern_pairs();
}

/* The longest registered secret at text, or NULL. */
static const secret *secret_at(const char *text, size_t len)
{
    for (size_t s = chain_head[(unsigned char)text[0]]; s; s = secrets[s - 1].next)
        if (secrets[s - 1].len <= len && memcmp(text, secrets[s - 1].text, secrets[s - 1].len) == 0)
            return &secrets[s - 1];
    return NULL;
}

/* ---- masking ----------------------------------------------------------- */

/* The parts of a text to mask, [from, to), in the order they were found:
 * by start, except that a pattern's value starts after its name, where a
 * secret may start too. They may overlap; the union is masked. */
typedef struct span {
    size_t from, to;
} span;

typedef struct span_list {
    span *items;
    size_t count, capacity;
    bool sorted;
    span first[16]; /* most texts need none, or a few */
} span_list;

static void add_span(span_list *list, size_t from, size_t to, size_t len)
{
    if (list->count == list->capacity) {
        size_t capacity = list->capacity * 2;
        span *grown = list->items == list->first ? malloc(capacity * sizeof(span))
                                                 : realloc(list->items, capacity * sizeof(span));
        if (!grown) { /* no room to remember it: mask everything from here to the end */
            span *last = &list->items[list->count - 1];
            last->from = from < last->from ? from : last->from;
            last->to = len;
            list->sorted = false;
            return;
        }
        if (list->items == list->first)
            memcpy(grown, list->first, sizeof(list->first));
        list->items = grown;
        list->capacity = capacity;
    }
    if (list->count && from < list->items[list->count - 1].from)
        list->sorted = false;
    list->items[list->count++] = (span){from, to};
}

static int by_start(const void *a, const void *b)
{
    const span *x = a, *y = b;
    return x->from < y->from ? -1 : x->from > y->from;
}

void redact_into(buffer *out, const char *text, size_t len)
{
    pthread_once(&patterns_once, mark_pattern_pairs);
    span_list spans = {.capacity = 16, .sorted = true};
    spans.items = spans.first;
    /* Registered secrets are looked for at every byte, inside a pattern's
     * name or value too (one may start there and run past it); a pattern is
     * not looked for again inside its own value, which keeps the scan
     * linear. */
    size_t patterns_from = 0;
    for (size_t i = 0; i + 1 < len; i++) { /* every secret and pattern is longer than one byte */
        while (i + 1 < len && !pair_is_marked(text + i))
            i++;
        if (i + 1 == len)
            break;
        const secret *s = secret_at(text + i, len - i);
        if (s)
            add_span(&spans, i, i + s->len, len);
        size_t value, end;
        if (i >= patterns_from && pattern_at(text, i, len, &value, &end)) {
            if (end > value)
                add_span(&spans, value, end, len);
            patterns_from = end > value ? end : value;
        }
    }
    if (!spans.sorted)
        qsort(spans.items, spans.count, sizeof(span), by_start);
    size_t plain = 0; /* start of the pending run of ordinary text */
    for (size_t k = 0; k < spans.count;) {
        size_t from = spans.items[k].from, to = spans.items[k].to;
        for (k++; k < spans.count && spans.items[k].from <= to; k++)
            if (spans.items[k].to > to)
                to = spans.items[k].to;
        buffer_append(out, text + plain, from - plain);
        buffer_append_str(out, REDACTED);
        plain = to;
    }
    buffer_append(out, text + plain, len - plain);
    if (spans.items != spans.first)
        free(spans.items);
}

void redact_print(FILE *out, const char *text)
{
    buffer clean;
    buffer_init(&clean, 0);
    redact_into(&clean, text, strlen(text));
    fputs(buffer_cstr(&clean), out);
    buffer_free(&clean);
}
