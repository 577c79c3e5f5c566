/* Shared Key signing; see shared_key.h.
 *
 * StringToSign = VERB \n Content-Encoding \n Content-Language \n
 *   Content-Length \n Content-MD5 \n Content-Type \n Date \n
 *   If-Modified-Since \n If-Match \n If-None-Match \n If-Unmodified-Since \n
 *   Range \n CanonicalizedHeaders CanonicalizedResource
 * (learn.microsoft.com: "Authenticate requests to the Azure Batch service",
 * "Authorize with Shared Key" for Storage; ../shared/azure-batch/FACTS.md 5.)
 *
 * Where the services differ:
 *   Content-Length  Batch signs the header as sent, "0" included; Storage
 *                   signs "" for a zero length (version 2015-02-21 on).
 *   headers         Batch canonicalizes ocp-*, Storage x-ms-*.
 *   query names     Batch keeps them as sent; Storage lowercases them and
 *                   joins repeated names' values with ','.
 * In both, query values are URL-decoded and parameters sorted by name. */
#include "shared_key.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base64.h"
#include "tls.h"
#include "url.h"

static const char *const standard_headers[] = {
    "Content-Encoding", "Content-Language",  "Content-Length", "Content-MD5",
    "Content-Type",     "Date",              "If-Modified-Since", "If-Match",
    "If-None-Match",    "If-Unmodified-Since", "Range",
};

static const char *header_value(const signed_request *r, const char *name)
{
    for (size_t i = 0; i < r->header_count; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return "";
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "name:value\n" for each header with the service's prefix, sorted. */
static bool canonical_headers(shared_key_service service, const signed_request *r, buffer *out)
{
    const char *prefix = service == SHARED_KEY_BATCH ? "ocp-" : "x-ms-";
    size_t prefix_len = strlen(prefix);
    char **lines = calloc(r->header_count + 1, sizeof(char *));
    size_t n = 0;
    bool ok = lines != NULL;
    for (size_t i = 0; ok && i < r->header_count; i++) {
        const request_header *h = &r->headers[i];
        if (strncasecmp(h->name, prefix, prefix_len) != 0 || !h->value[0])
            continue;
        buffer line;
        buffer_init(&line, 0);
        for (const char *c = h->name; *c; c++)
            buffer_append_char(&line, (char)((*c >= 'A' && *c <= 'Z') ? *c + 32 : *c));
        buffer_appendf(&line, ":%s\n", h->value);
        ok = buffer_ok(&line);
        lines[n++] = line.data;
    }
    if (ok) {
        qsort(lines, n, sizeof(char *), compare_strings);
        for (size_t i = 0; i < n; i++)
            buffer_append_str(out, lines[i]);
    }
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
    return ok;
}

typedef struct query_param {
    char *name;
    char *value;
} query_param;

static int compare_params(const void *a, const void *b)
{
    const query_param *x = a, *y = b;
    int by_name = strcmp(x->name, y->name);
    return by_name ? by_name : strcmp(x->value, y->value);
}

/* "/account/path" then "\nname:value" per parameter (see the file comment). */
static bool canonical_resource(shared_key_service service, const char *account,
                               const signed_request *r, buffer *out)
{
    buffer_appendf(out, "/%s%s", account, r->path);
    if (!r->query || !r->query[0])
        return true;
    size_t count = 1;
    for (const char *c = r->query; *c; c++)
        count += *c == '&';
    query_param *params = calloc(count, sizeof(query_param));
    if (!params)
        return false;
    size_t n = 0;
    bool ok = true;
    for (const char *p = r->query; ok && *p;) {
        size_t len = strcspn(p, "&");
        const char *eq = memchr(p, '=', len);
        size_t name_len = eq ? (size_t)(eq - p) : len;
        buffer name, value;
        buffer_init(&name, 0);
        buffer_init(&value, 0);
        ok = url_decode_into(&name, p, name_len) &&
             url_decode_into(&value, eq ? eq + 1 : "", eq ? len - name_len - 1 : 0);
        buffer_append(&name, "", 0); /* a NUL-terminated (possibly empty) string */
        buffer_append(&value, "", 0);
        if (service == SHARED_KEY_STORAGE)
            for (char *c = name.data; *c; c++)
                if (*c >= 'A' && *c <= 'Z')
                    *c = (char)(*c + 32);
        params[n].name = name.data;
        params[n].value = value.data;
        n++;
        ok = ok && buffer_ok(&name) && buffer_ok(&value);
        p += len;
        if (*p == '&')
            p++;
    }
    if (ok) {
        qsort(params, n, sizeof(query_param), compare_params);
        for (size_t i = 0; i < n; i++) {
            bool repeat = i > 0 && strcmp(params[i].name, params[i - 1].name) == 0;
            if (repeat && service == SHARED_KEY_STORAGE)
                buffer_appendf(out, ",%s", params[i].value);
            else
                buffer_appendf(out, "\n%s:%s", params[i].name, params[i].value);
        }
    }
    for (size_t i = 0; i < n; i++) {
        free(params[i].name);
        free(params[i].value);
    }
    free(params);
    return ok;
}

bool shared_key_string_to_sign(shared_key_service service, const char *account,
                               const signed_request *r, buffer *out)
{
    buffer_appendf(out, "%s\n", r->method);
    for (size_t i = 0; i < sizeof(standard_headers) / sizeof(standard_headers[0]); i++) {
        const char *value = header_value(r, standard_headers[i]);
        if (service == SHARED_KEY_STORAGE && strcmp(standard_headers[i], "Content-Length") == 0 &&
            strcmp(value, "0") == 0)
            value = "";
        buffer_appendf(out, "%s\n", value);
    }
    return canonical_headers(service, r, out) && canonical_resource(service, account, r, out) &&
           buffer_ok(out);
}

bool shared_key_authorization(shared_key_service service, const char *account,
                              const uint8_t *key, size_t key_len, const signed_request *r,
                              buffer *out)
{
    buffer to_sign;
    buffer_init(&to_sign, 0);
    uint8_t mac[32];
    bool ok = shared_key_string_to_sign(service, account, r, &to_sign) &&
              crypto_hmac_sha256(key, key_len, to_sign.data, to_sign.len, mac);
    if (ok) {
        buffer_appendf(out, "SharedKey %s:", account);
        base64_encode_into(out, mac, sizeof(mac));
    }
    buffer_free(&to_sign);
    return ok && buffer_ok(out);
}
