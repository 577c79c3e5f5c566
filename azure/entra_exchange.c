/* Entra ID token exchanges; see entra_exchange.h. */
#include "entra_exchange.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_reader.h"
#include "redact.h"
#include "url.h"

#define ASSERTION_LIMIT 16384

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

bool entra_request_build(const entra_settings *s, const entra_resource *r, http_exchange *x,
                         char *error, size_t error_size)
{
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

char *entra_answer_read(long status, const char *body, size_t len, int64_t *lifetime,
                        char *error, size_t error_size)
{
    json_document doc;
    char json_error[96];
    if (!json_document_parse(&doc, body, len, JSON_TOKENS_FOR_A_VALUE, json_error,
                             sizeof(json_error))) {
        snprintf(error, error_size, "the token endpoint answered HTTP %ld, not JSON", status);
        return NULL;
    }
    char *token = NULL;
    if (status >= 200 && status < 300) {
        token = json_string_dup(&doc, json_object_get(&doc, 0, "access_token"));
        if (token && token[0] &&
            read_lifetime(&doc, json_object_get(&doc, 0, "expires_in"), lifetime)) {
            redact_register_secret(token);
        } else {
            free(token);
            token = NULL;
            snprintf(error, error_size, "the token endpoint's answer has no access_token or "
                                        "expires_in");
        }
    } else {
        char *code = json_string_dup(&doc, json_object_get(&doc, 0, "error"));
        char *text = json_string_dup(&doc, json_object_get(&doc, 0, "error_description"));
        snprintf(error, error_size, "the token endpoint refused (HTTP %ld %s): %.*s", status,
                 code ? code : "", (int)(text ? strcspn(text, "\r\n") : 0), text ? text : "");
        free(code);
        free(text);
    }
    json_document_free(&doc);
    return token;
}

