/* Service SAS; see sas.h. The string-to-sign for sv >= 2020-12-06 is, one
 * field per line: sp, st, se, canonicalizedResource, si, sip, spr, sv, sr,
 * snapshot time, ses, rscc, rscd, rsce, rscl, rsct
 * (learn.microsoft.com "Create a service SAS"; docs/azure-facts.md
 * 5, checked against Azurite). A user delegation SAS inserts, after the
 * canonicalized resource: skoid, sktid, skt, ske, sks, skv, saoid, suoid,
 * scid ("Create a user delegation SAS"). Unused fields are empty lines. */
#include "sas.h"

#include <string.h>

#include "base64.h"
#include "clock.h"
#include "storage_version.h"
#include "tls.h"
#include "url.h"
#include "user_delegation_key.h"

/* Permissions must be a subset of "racwdxltmeop" in that order. */
static bool permissions_are_canonical(const char *p)
{
    static const char order[] = "racwdxltmeop";
    const char *at = order;
    for (; *p; p++) {
        const char *found = strchr(at, *p);
        if (!found)
            return false;
        at = found + 1;
    }
    return true;
}

bool sas_string_to_sign(const sas_grant *g, buffer *out)
{
    if (!permissions_are_canonical(g->permissions) || !g->permissions[0])
        return false;
    char start[32] = "", expiry[32];
    if (g->start)
        clock_iso8601(g->start, start);
    clock_iso8601(g->expiry, expiry);
    buffer_appendf(out, "%s\n%s\n%s\n/blob/%s/%s", g->permissions, start, expiry, g->account,
                   g->container);
    if (g->blob)
        buffer_appendf(out, "/%s", g->blob);
    const user_delegation_key *d = g->delegation;
    if (d)
        buffer_appendf(out, "\n%s\n%s\n%s\n%s\n%s\n%s\n\n\n", d->object_id, d->tenant_id,
                       d->start, d->expiry, d->service, d->version);
    else
        buffer_append_char(out, '\n'); /* si */
    buffer_appendf(out, "\n\n%s\n%s\n%s\n\n\n\n\n\n\n", g->allow_http ? "https,http" : "https",
                   STORAGE_SERVICE_VERSION, g->blob ? "b" : "c");
    return buffer_ok(out);
}

bool sas_query_string(const sas_grant *g, buffer *out)
{
    buffer to_sign, signature;
    buffer_init(&to_sign, 0);
    buffer_init(&signature, 0);
    uint8_t mac[32];
    const uint8_t *key = g->delegation ? g->delegation->value : g->key;
    size_t key_len = g->delegation ? g->delegation->value_len : g->key_len;
    bool ok = sas_string_to_sign(g, &to_sign) &&
              crypto_hmac_sha256(key, key_len, to_sign.data, to_sign.len, mac);
    if (ok) {
        base64_encode_into(&signature, mac, sizeof(mac));
        char start[32], expiry[32];
        clock_iso8601(g->expiry, expiry);
        buffer_appendf(out, "sv=%s", STORAGE_SERVICE_VERSION);
        if (g->start) {
            clock_iso8601(g->start, start);
            buffer_append_str(out, "&st=");
            url_encode_into(out, start, false);
        }
        buffer_append_str(out, "&se=");
        url_encode_into(out, expiry, false);
        buffer_appendf(out, "&sr=%s&sp=%s&spr=%s", g->blob ? "b" : "c", g->permissions,
                       g->allow_http ? "https%2Chttp" : "https");
        const user_delegation_key *d = g->delegation;
        if (d) {
            const char *const fields[][2] = {{"skoid", d->object_id}, {"sktid", d->tenant_id},
                                             {"skt", d->start},       {"ske", d->expiry},
                                             {"sks", d->service},     {"skv", d->version}};
            for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
                buffer_appendf(out, "&%s=", fields[i][0]);
                url_encode_into(out, fields[i][1], false);
            }
        }
        buffer_append_str(out, "&sig=");
        url_encode_into(out, buffer_cstr(&signature), false);
    }
    buffer_free(&to_sign);
    buffer_free(&signature);
    return ok && buffer_ok(out);
}
