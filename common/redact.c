/* Secret redaction; see redact.h. Patterns are matched case-insensitively on
 * their names; a value runs until a delimiter that ends it in URLs, headers,
 * connection strings and JSON. */
#include "redact.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_SECRETS 32

static char *secrets[MAX_SECRETS];
static size_t secret_count;

void redact_register_secret(const char *value)
{
    if (!value || strlen(value) < 4 || secret_count >= MAX_SECRETS)
        return;
    for (size_t i = 0; i < secret_count; i++)
        if (strcmp(secrets[i], value) == 0)
            return;
    char *copy = strdup(value);
    if (copy)
        secrets[secret_count++] = copy;
}

void redact_forget_secrets(void)
{
    for (size_t i = 0; i < secret_count; i++)
        free(secrets[i]);
    secret_count = 0;
}

/* Names whose value is secret, and what ends the value. */
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
    {"\"access_token\":\"", "\""},             /* token response */
    {"\"password\":\"", "\""},                 /* registry credentials in JSON */
};

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

static int secret_at(const char *text, size_t len)
{
    for (size_t s = 0; s < secret_count; s++) {
        size_t n = strlen(secrets[s]);
        if (n <= len && memcmp(text, secrets[s], n) == 0)
            return (int)s;
    }
    return -1;
}

void redact_into(buffer *out, const char *text, size_t len)
{
    size_t i = 0;
    size_t plain = 0; /* start of the pending run of ordinary text */
    while (i < len) {
        int s = secret_at(text + i, len - i);
        if (s >= 0) {
            buffer_append(out, text + plain, i - plain);
            buffer_append_str(out, REDACTED);
            i += strlen(secrets[s]);
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
        while (end < len && !strchr(patterns[p].value_ends, text[end]))
            end++;
        buffer_append(out, text + plain, value - plain);
        if (end > value)
            buffer_append_str(out, REDACTED);
        i = plain = end;
    }
    buffer_append(out, text + plain, len - plain);
}
