/* User delegation keys; see user_delegation_key.h. The answer is a fixed,
 * flat XML document (learn.microsoft.com "Get User Delegation Key"):
 * <UserDelegationKey><SignedOid>..</SignedOid>...<Value>..</Value></UserDelegationKey>;
 * each field is read as the text between its tags, which must not itself
 * contain markup. */
#include "user_delegation_key.h"

#include <stdio.h>
#include <string.h>

#include "base64.h"
#include "clock.h"
#include "storage_version.h"

/* The text of <tag>...</tag> inside the document, copied into out. */
static bool element_text(const char *xml, size_t len, const char *tag, char *out, size_t size)
{
    char open[48], close[48];
    snprintf(open, sizeof(open), "<%s>", tag);
    snprintf(close, sizeof(close), "</%s>", tag);
    const char *start = memmem(xml, len, open, strlen(open));
    if (!start)
        return false;
    start += strlen(open);
    const char *end = memmem(start, len - (size_t)(start - xml), close, strlen(close));
    if (!end || (size_t)(end - start) >= size || memchr(start, '<', (size_t)(end - start)))
        return false;
    memcpy(out, start, (size_t)(end - start));
    out[end - start] = '\0';
    return true;
}

bool user_delegation_key_parse(const char *xml, size_t len, user_delegation_key *key)
{
    memset(key, 0, sizeof(*key));
    char value[128];
    return element_text(xml, len, "SignedOid", key->object_id, sizeof(key->object_id)) &&
           element_text(xml, len, "SignedTid", key->tenant_id, sizeof(key->tenant_id)) &&
           element_text(xml, len, "SignedStart", key->start, sizeof(key->start)) &&
           element_text(xml, len, "SignedExpiry", key->expiry, sizeof(key->expiry)) &&
           element_text(xml, len, "SignedService", key->service, sizeof(key->service)) &&
           element_text(xml, len, "SignedVersion", key->version, sizeof(key->version)) &&
           element_text(xml, len, "Value", value, sizeof(value)) &&
           base64_decode(value, strlen(value), key->value, sizeof(key->value), &key->value_len) &&
           key->value_len > 0;
}

bool user_delegation_key_request(http_client *http, const char *service_url, const char *token,
                                 time_t start, time_t expiry, user_delegation_key *key,
                                 buffer *error)
{
    buffer url, authorization;
    buffer_init(&url, 0);
    buffer_init(&authorization, 0);
    size_t base = strlen(service_url);
    while (base > 0 && service_url[base - 1] == '/')
        base--;
    buffer_appendf(&url, "%.*s/?restype=service&comp=userdelegationkey", (int)base, service_url);
    buffer_appendf(&authorization, "Bearer %s", token);
    http_exchange x;
    http_exchange_init(&x, "POST", buffer_cstr(&url));
    http_exchange_set_header(&x, "Authorization", buffer_cstr(&authorization));
    http_exchange_set_header(&x, "x-ms-version", STORAGE_SERVICE_VERSION);
    http_exchange_set_header(&x, "Content-Type", "application/xml");
    char from[32], until[32];
    clock_iso8601(start, from);
    clock_iso8601(expiry, until);
    buffer_appendf(&x.body, "<?xml version=\"1.0\" encoding=\"utf-8\"?><KeyInfo><Start>%s</Start>"
                            "<Expiry>%s</Expiry></KeyInfo>", from, until);
    bool ok = false;
    if (!http_client_run_one(http, &x))
        buffer_append_str(error, "cancelled");
    else if (x.status == 0)
        buffer_appendf(error, "no answer from %s: %s", buffer_cstr(&url), x.error);
    else if (x.status != 200)
        buffer_appendf(error, "storage refused a user delegation key (HTTP %ld): the identity "
                              "needs the Storage Blob Delegator role (included in Storage Blob "
                              "Data Contributor)", x.status);
    else if (!(ok = user_delegation_key_parse(x.response.data, x.response.len, key)))
        buffer_append_str(error, "the user delegation key answer is not what the service sends");
    http_exchange_free(&x);
    buffer_free(&url);
    buffer_free(&authorization);
    return ok;
}
