/* Shared Key signing; see shared_key.h.
 *
 * StringToSign = VERB \n Content-Encoding \n Content-Language \n
 *   Content-Length \n Content-MD5 \n Content-Type \n Date \n
 *   If-Modified-Since \n If-Match \n If-None-Match \n If-Unmodified-Since \n
 *   Range \n CanonicalizedHeaders CanonicalizedResource
 * (learn.microsoft.com: "Authenticate requests to the Azure Batch service",
 * "Authorize with Shared Key" for Storage; docs/azure-facts.md 5.)
 *
 * Where the services differ:
 *   Content-Length  Batch signs the header as sent, "0" included; Storage
 *                   signs "" for a zero length (version 2015-02-21 on).
 *   headers         Batch canonicalizes ocp-*, sorted ordinally by name;
 *                   Storage x-ms-*, sorted the service's own way (below).
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

/* One canonicalized header: the lowercased name, and the value as sent. */
typedef struct canonical_header {
    char *name;
    const char *value;
} canonical_header;

/* Batch orders ocp-* names ordinally (its SDKs sort the names). */
static int compare_ordinal(const void *a, const void *b)
{
    return strcmp(((const canonical_header *)a)->name, ((const canonical_header *)b)->name);
}

/* Storage orders x-ms-* names as the service does, with a culture-aware
 * comparison that its SDKs port as tables (@azure/storage-common
 * SharedKeyComparator): at the first level '-' and '\'' are ignored and
 * '_' < digits < letters; '-' and '\'' only break ties at the last level.
 * So "x-ms-meta-a_b" < "x-ms-meta-a0" < "x-ms-meta-ac" < "x-ms-meta-a-d",
 * which ordinal order gets wrong. Weight 0: skipped at that level; a
 * name's end weighs 1. Names are lowercase ASCII here. */
static unsigned storage_weight(int level, unsigned char c)
{
    static const unsigned short primary[128] = {
        ['!'] = 1820, ['#'] = 1823, ['$'] = 1825, ['%'] = 1827, ['&'] = 1829, ['*'] = 1837,
        ['+'] = 2051, ['.'] = 1843, ['0'] = 3331, ['1'] = 3354, ['2'] = 3356, ['3'] = 3358,
        ['4'] = 3360, ['5'] = 3362, ['6'] = 3364, ['7'] = 3366, ['8'] = 3368, ['9'] = 3370,
        ['^'] = 1859, ['_'] = 1860, ['`'] = 1864, ['|'] = 1868, ['~'] = 1872,
        ['a'] = 3586, ['b'] = 3593, ['c'] = 3594, ['d'] = 3610, ['e'] = 3617, ['f'] = 3619,
        ['g'] = 3621, ['h'] = 3628, ['i'] = 3634, ['j'] = 3637, ['k'] = 3638, ['l'] = 3656,
        ['m'] = 3665, ['n'] = 3696, ['o'] = 3708, ['p'] = 3710, ['q'] = 3721, ['r'] = 3722,
        ['s'] = 3729, ['t'] = 3737, ['u'] = 3743, ['v'] = 3746, ['w'] = 3748, ['x'] = 3750,
        ['y'] = 3751, ['z'] = 3753,
    };
    if (c >= 128)
        return 0;
    if (level == 0)
        return c >= 'A' && c <= 'Z' ? primary[c + 32] : primary[c];
    if (level == 1)
        return c >= 'A' && c <= 'Z' ? 18 : 0; /* case */
    return c == '\'' ? 32786 : c == '-' ? 33298 : 0;
}

static bool storage_name_less(const char *lhs, const char *rhs)
{
    size_t lhs_len = strlen(lhs), rhs_len = strlen(rhs), i = 0, j = 0;
    for (int level = 0; level < 3;) {
        if (level == 2 && i != j)
            return i > j;
        unsigned w1 = i < lhs_len ? storage_weight(level, (unsigned char)lhs[i]) : 1;
        unsigned w2 = j < rhs_len ? storage_weight(level, (unsigned char)rhs[j]) : 1;
        if (w1 == 1 && w2 == 1) {
            i = j = 0;
            level++;
        } else if (w1 == w2) {
            i++;
            j++;
        } else if (w1 == 0) {
            i++;
        } else if (w2 == 0) {
            j++;
        } else {
            return w1 < w2;
        }
    }
    return false;
}

static int compare_storage(const void *a, const void *b)
{
    const char *x = ((const canonical_header *)a)->name, *y = ((const canonical_header *)b)->name;
    return storage_name_less(x, y) ? -1 : storage_name_less(y, x) ? 1 : strcmp(x, y);
}

/* "name:value\n" for each header with the service's prefix and a value, in
 * the service's order of names. */
static bool canonical_headers(shared_key_service service, const signed_request *r, buffer *out)
{
    const char *prefix = service == SHARED_KEY_BATCH ? "ocp-" : "x-ms-";
    size_t prefix_len = strlen(prefix);
    canonical_header *headers = calloc(r->header_count + 1, sizeof(*headers));
    size_t n = 0;
    bool ok = headers != NULL;
    for (size_t i = 0; ok && i < r->header_count; i++) {
        const request_header *h = &r->headers[i];
        if (strncasecmp(h->name, prefix, prefix_len) != 0 || !h->value[0])
            continue;
        char *name = strdup(h->name);
        ok = name != NULL;
        for (char *c = name; ok && *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c + 32);
        headers[n++] = (canonical_header){name, h->value};
    }
    if (ok) {
        qsort(headers, n, sizeof(*headers),
              service == SHARED_KEY_BATCH ? compare_ordinal : compare_storage);
        for (size_t i = 0; i < n; i++)
            buffer_appendf(out, "%s:%s\n", headers[i].name, headers[i].value);
    }
    for (size_t i = 0; i < n; i++)
        free(headers[i].name);
    free(headers);
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
