/* Secret redaction; see redact.h. Patterns are matched case-insensitively on
 * their names; a value runs until a delimiter that ends it in URLs, headers,
 * connection strings, or the closing quote of a JSON string. A registered
 * secret is masked as written and as a JSON string carries it (a quote,
 * backslash or newline in it is escaped there). Only bytes that can start a
 * secret or a pattern are looked at closely, so clean text costs a table
 * lookup per byte. */
#include "redact.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json_writer.h"

#define MAX_SECRETS 64

static struct {
    char *text;
    size_t len;
} secrets[MAX_SECRETS];
static size_t secret_count;
static bool may_start_secret[256];

static void add_secret(const char *value, size_t len)
{
    if (secret_count >= MAX_SECRETS)
        return;
    for (size_t i = 0; i < secret_count; i++)
        if (secrets[i].len == len && memcmp(secrets[i].text, value, len) == 0)
            return;
    char *copy = strndup(value, len);
    if (!copy)
        return;
    secrets[secret_count].text = copy;
    secrets[secret_count++].len = len;
    may_start_secret[(unsigned char)value[0]] = true;
}

void redact_register_secret(const char *value)
{
    if (!value || strlen(value) < 4)
        return;
    add_secret(value, strlen(value));
    buffer escaped;
    buffer_init(&escaped, 0);
    json_escape_into(&escaped, value, strlen(value));
    if (buffer_ok(&escaped))
        add_secret(buffer_cstr(&escaped), escaped.len);
    buffer_free(&escaped);
}

void redact_forget_secrets(void)
{
    for (size_t i = 0; i < secret_count; i++)
        free(secrets[i].text);
    secret_count = 0;
    memset(may_start_secret, 0, sizeof(may_start_secret));
}

/* Names whose value is secret, and what ends the value. */
#define JSON_STRING_END NULL /* the value is the rest of a JSON string */

static const struct {
    const char *name;
    const char *value_ends;
} patterns[] = {
    {"sig=", "&\"' \t\r\n<>"},                 /* SAS signature in a URL */
    {"AccountKey=", ";\"' \t\r\n"},            /* storage connection string */
    {"SharedKey ", "\"' \t\r\n,"},             /* Authorization: SharedKey acct:sig */
    {"Bearer ", "\"' \t\r\n,"},                /* Authorization: Bearer token */
    {"client_secret=", "&\"' \t\r\n"},         /* Entra ID token request */
    {"client_assertion=", "&\"' \t\r\n"},      /* workload identity token request */
    {"\"access_token\":\"", JSON_STRING_END},   /* token response */
    {"\"password\":\"", JSON_STRING_END},       /* registry credentials in JSON */
};

/* The first bytes of the names above, in either case. */
static const char pattern_first_bytes[] = "sSaAbBcC\"";

static bool may_start_pattern(unsigned char c)
{
    return c != 0 && memchr(pattern_first_bytes, c, sizeof(pattern_first_bytes) - 1) != NULL;
}

/* The pattern that starts at text (within len bytes), or -1. */
static int pattern_at(const char *text, size_t len)
{
    for (size_t p = 0; p < sizeof(patterns) / sizeof(patterns[0]); p++) {
        size_t n = strlen(patterns[p].name);
        if (n <= len && strncasecmp(text, patterns[p].name, n) == 0)
            return (int)p;
    }
    return -1;
}

/* The longest registered secret at text: "pa\\"ss" must win over "pa". */
static int secret_at(const char *text, size_t len)
{
    int found = -1;
    for (size_t s = 0; s < secret_count; s++)
        if (secrets[s].len <= len && memcmp(text, secrets[s].text, secrets[s].len) == 0 &&
            (found < 0 || secrets[s].len > secrets[found].len))
            found = (int)s;
    return found;
}

/* Where a pattern's value ends. */
static size_t value_end(int p, const char *text, size_t value, size_t len)
{
    size_t end = value;
    if (patterns[p].value_ends == JSON_STRING_END) {
        while (end < len && text[end] != '"')
            end += text[end] == '\\' && end + 1 < len ? 2 : 1;
        return end < len ? end : len;
    }
    while (end < len && !strchr(patterns[p].value_ends, text[end]))
        end++;
    return end;
}

void redact_into(buffer *out, const char *text, size_t len)
{
    size_t i = 0;
    size_t plain = 0; /* start of the pending run of ordinary text */
    while (i < len) {
        unsigned char c = (unsigned char)text[i];
        if (!may_start_secret[c] && !may_start_pattern(c)) {
            i++;
            continue;
        }
        int s = may_start_secret[c] ? secret_at(text + i, len - i) : -1;
        if (s >= 0) {
            buffer_append(out, text + plain, i - plain);
            buffer_append_str(out, REDACTED);
            i += secrets[s].len;
            plain = i;
            continue;
        }
        int p = pattern_at(text + i, len - i);
        if (p < 0) {
            i++;
            continue;
        }
        size_t name_len = strlen(patterns[p].name);
        size_t value = i + name_len;
        size_t end = value;
        /* SharedKey keeps the account name before ':' (it helps debugging). */
        if (strcmp(patterns[p].name, "SharedKey ") == 0) {
            while (end < len && text[end] != ':' && !strchr(patterns[p].value_ends, text[end]))
                end++;
            if (end < len && text[end] == ':')
                value = ++end;
        }
        end = value_end(p, text, end, len);
        buffer_append(out, text + plain, value - plain);
        if (end > value)
            buffer_append_str(out, REDACTED);
        i = plain = end;
    }
    buffer_append(out, text + plain, len - plain);
}
