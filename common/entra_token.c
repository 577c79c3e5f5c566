/* Entra ID tokens; see entra_token.h.
 *
 * Client credentials (workload identity and client secret) use the v2 token
 * endpoint: POST {authority}/{tenant}/oauth2/v2.0/token, form-encoded
 * grant_type=client_credentials, client_id, scope and either client_secret or
 * client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer
 * with client_assertion = the projected token file, read afresh each time
 * because the kubelet rotates it. Managed identity asks IMDS:
 * GET {imds}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=...
 * with "Metadata: true". (learn.microsoft.com: v2-oauth2-client-creds-grant-flow,
 * managed identities how-to; ../shared/azure-batch/FACTS.md 5.) */
#include "entra_token.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_client.h"
#include "json_reader.h"
#include "redact.h"
#include "url.h"

#define REFRESH_MARGIN_SECONDS 300
#define ASSERTION_LIMIT 16384
#define CACHED_RESOURCES 4

const entra_resource ENTRA_BATCH = {"https://batch.core.windows.net//.default",
                                    "https://batch.core.windows.net/"};
const entra_resource ENTRA_STORAGE = {"https://storage.azure.com/.default",
                                      "https://storage.azure.com/"};

typedef struct cached_token {
    const entra_resource *resource;
    char *token;
    time_t refresh_at; /* 5 minutes, or half its lifetime, before it expires */
} cached_token;

struct entra_tokens {
    entra_settings settings;
    http_client *http;
    cached_token cache[CACHED_RESOURCES];
    unsigned requests;
};

entra_tokens *entra_tokens_new(const entra_settings *settings, const retry_policy *policy,
                               volatile const int *cancel)
{
    entra_tokens *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->settings = *settings;
    t->http = http_client_new(policy, cancel);
    if (!t->http) {
        free(t);
        return NULL;
    }
    return t;
}

void entra_tokens_free(entra_tokens *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < CACHED_RESOURCES; i++)
        free(t->cache[i].token);
    http_client_free(t->http);
    free(t);
}

unsigned entra_token_requests(const entra_tokens *t)
{
    return t->requests;
}

/* The projected service-account token: the whole file, trimmed. */
static char *read_assertion(const char *path, char *error, size_t error_size)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(error, error_size, "cannot read AZURE_FEDERATED_TOKEN_FILE %s", path);
        return NULL;
    }
    char *text = calloc(1, ASSERTION_LIMIT + 1);
    size_t n = text ? fread(text, 1, ASSERTION_LIMIT, f) : 0;
    fclose(f);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '))
        text[--n] = '\0';
    if (!text || n == 0) {
        snprintf(error, error_size, "AZURE_FEDERATED_TOKEN_FILE %s is empty", path);
        free(text);
        return NULL;
    }
    redact_register_secret(text);
    return text;
}

static void append_form_field(buffer *body, const char *name, const char *value)
{
    if (body->len)
        buffer_append_char(body, '&');
    buffer_appendf(body, "%s=", name);
    url_encode_into(body, value, false);
}

/* Builds the token request for the configured method. */
static bool build_request(entra_tokens *t, const entra_resource *r, http_exchange *x,
                          char *error, size_t error_size)
{
    const entra_settings *s = &t->settings;
    buffer url;
    buffer_init(&url, 0);
    bool ok = true;
    if (s->method == ENTRA_MANAGED_IDENTITY) {
        buffer_appendf(&url, "%s/metadata/identity/oauth2/token?api-version=2018-02-01&resource=",
                       s->imds_endpoint);
        url_encode_into(&url, r->resource, false);
        if (s->client_id && s->client_id[0]) {
            buffer_append_str(&url, "&client_id=");
            url_encode_into(&url, s->client_id, false);
        }
        http_exchange_init(x, "GET", buffer_cstr(&url));
        http_exchange_set_header(x, "Metadata", "true");
    } else {
        const char *host = s->authority_host;
        size_t host_len = strlen(host);
        while (host_len > 0 && host[host_len - 1] == '/')
            host_len--;
        buffer_appendf(&url, "%.*s/", (int)host_len, host);
        url_encode_into(&url, s->tenant_id, false);
        buffer_append_str(&url, "/oauth2/v2.0/token");
        http_exchange_init(x, "POST", buffer_cstr(&url));
        http_exchange_set_header(x, "Content-Type", "application/x-www-form-urlencoded");
        append_form_field(&x->body, "grant_type", "client_credentials");
        append_form_field(&x->body, "client_id", s->client_id);
        append_form_field(&x->body, "scope", r->scope);
        if (s->method == ENTRA_CLIENT_SECRET) {
            append_form_field(&x->body, "client_secret", s->client_secret);
        } else {
            char *assertion = read_assertion(s->federated_token_file, error, error_size);
            ok = assertion != NULL;
            if (ok) {
                append_form_field(&x->body, "client_assertion_type",
                                  "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
                append_form_field(&x->body, "client_assertion", assertion);
            }
            free(assertion);
        }
    }
    http_exchange_set_header(x, "Accept", "application/json");
    buffer_free(&url);
    return ok && buffer_ok(&x->body);
}

/* expires_in is a number from Entra and a string from IMDS. */
static bool read_lifetime(const json_document *doc, int token, int64_t *seconds)
{
    if (json_read_int64(doc, token, 1, 86400 * 30, seconds))
        return true;
    char *text = json_string_dup(doc, token);
    char *end = NULL;
    long long value = text ? strtoll(text, &end, 10) : 0;
    bool ok = text && end != text && *end == '\0' && value > 0 && value <= 86400 * 30;
    free(text);
    *seconds = value;
    return ok;
}

static bool read_answer(const http_exchange *x, cached_token *entry, char *error,
                        size_t error_size)
{
    json_document doc;
    char json_error[96];
    if (!json_document_parse(&doc, x->response.data, x->response.len, 4096, json_error,
                             sizeof(json_error))) {
        snprintf(error, error_size, "the token endpoint answered HTTP %ld, not JSON", x->status);
        return false;
    }
    bool ok = false;
    if (http_exchange_succeeded(x)) {
        char *token = json_string_dup(&doc, json_object_get(&doc, 0, "access_token"));
        int64_t lifetime;
        if (token && read_lifetime(&doc, json_object_get(&doc, 0, "expires_in"), &lifetime)) {
            redact_register_secret(token);
            free(entry->token);
            entry->token = token;
            int64_t margin = lifetime / 2 < REFRESH_MARGIN_SECONDS ? lifetime / 2
                                                                    : REFRESH_MARGIN_SECONDS;
            entry->refresh_at = time(NULL) + (time_t)(lifetime - margin);
            ok = true;
        } else {
            free(token);
            snprintf(error, error_size, "the token endpoint's answer has no access_token or "
                                        "expires_in");
        }
    } else {
        char *code = json_string_dup(&doc, json_object_get(&doc, 0, "error"));
        char *text = json_string_dup(&doc, json_object_get(&doc, 0, "error_description"));
        snprintf(error, error_size, "the token endpoint refused (HTTP %ld %s): %.*s", x->status,
                 code ? code : "", (int)(text ? strcspn(text, "\r\n") : 0), text ? text : "");
        free(code);
        free(text);
    }
    json_document_free(&doc);
    return ok;
}

const char *entra_token_for(entra_tokens *t, const entra_resource *r, char *error,
                            size_t error_size, bool *refused)
{
    *refused = false;
    cached_token *entry = NULL;
    for (size_t i = 0; i < CACHED_RESOURCES && !entry; i++)
        if (t->cache[i].resource == r || !t->cache[i].resource)
            entry = &t->cache[i];
    if (!entry) {
        snprintf(error, error_size, "too many token resources");
        return NULL;
    }
    entry->resource = r;
    if (entry->token && time(NULL) < entry->refresh_at)
        return entry->token;
    http_exchange x;
    memset(&x, 0, sizeof(x));
    const char *result = NULL;
    t->requests++;
    if (!build_request(t, r, &x, error, error_size)) {
        http_exchange_free(&x);
        *refused = true; /* the token file cannot be read: not something a retry fixes */
        return NULL;
    }
    if (!http_client_run_one(t->http, &x))
        snprintf(error, error_size, "cancelled");
    else if (x.status == 0)
        snprintf(error, error_size, "the token endpoint did not answer: %s", x.error);
    else if (read_answer(&x, entry, error, error_size))
        result = entry->token;
    else
        *refused = x.status >= 400 && x.status < 500 && x.status != 408 && x.status != 429;
    http_exchange_free(&x);
    return result;
}
