/* The storage plan; see storage_plan.h. */
#include "storage_plan.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base64.h"
#include "sas.h"
#include "url.h"

#define SAS_MARGIN_SECONDS 3600
#define SAS_DEFAULT_LIFETIME_SECONDS (7 * 24 * 3600) /* Batch keeps tasks 7 days by default */
#define CLOCK_SKEW_SECONDS 900

static bool is_loopback_http(const char *url)
{
    url_parts parts;
    return url_split(url, &parts) && parts.scheme_len == 4 && url_is_secure_or_loopback(&parts);
}

void storage_plan_init(storage_plan *s)
{
    memset(s, 0, sizeof(*s));
    buffer_init(&s->container_url, 0);
    buffer_init(&s->read_sas, 0);
    buffer_init(&s->write_sas, 0);
    buffer_init(&s->prefix, 0);
}

bool storage_plan_build(storage_plan *s, const offloader_config *c, int64_t deadline_seconds,
                        buffer *errors)
{
    if (!c->storage_account)
        return true; /* no storage: tasks get no files */
    s->enabled = true;
    if (c->blob_endpoint)
        buffer_append_str(&s->container_url, c->blob_endpoint);
    else
        buffer_appendf(&s->container_url, "https://%s.blob.core.windows.net", c->storage_account);
    while (s->container_url.len && s->container_url.data[s->container_url.len - 1] == '/')
        s->container_url.data[--s->container_url.len] = '\0';
    buffer_appendf(&s->container_url, "/%s", c->container);
    buffer_append_str(&s->prefix, c->blob_prefix);

    uint8_t key[128];
    size_t key_len = 0;
    if (!base64_decode(c->storage_key_text, strlen(c->storage_key_text), key, sizeof(key),
                       &key_len)) {
        buffer_append_str(errors, "STORAGEKEY is not valid base64\n");
        return false;
    }
    time_t now = time(NULL);
    int64_t lifetime = deadline_seconds > 0 ? deadline_seconds + SAS_MARGIN_SECONDS
                                            : SAS_DEFAULT_LIFETIME_SECONDS;
    sas_grant grant = {
        .account = c->storage_account,
        .key = key,
        .key_len = key_len,
        .container = c->container,
        .start = now - CLOCK_SKEW_SECONDS,
        .expiry = now + (time_t)lifetime,
        .allow_http = is_loopback_http(buffer_cstr(&s->container_url)),
    };
    grant.permissions = "rl";
    bool ok = sas_query_string(&grant, &s->read_sas);
    grant.permissions = "cw";
    ok = ok && sas_query_string(&grant, &s->write_sas);
    memset(key, 0, sizeof(key));
    if (!ok)
        buffer_append_str(errors, "cannot sign the storage SAS\n");
    return ok;
}

void storage_plan_free(storage_plan *s)
{
    buffer_free(&s->container_url);
    buffer_free(&s->read_sas);
    buffer_free(&s->write_sas);
    buffer_free(&s->prefix);
}

void storage_location(const storage_plan *s, const char *part, buffer *out)
{
    buffer_appendf(out, "%s/%s/%s", buffer_cstr(&s->container_url), buffer_cstr(&s->prefix),
                   part);
}

input_check storage_check_inputs(const storage_plan *s, http_client *http, buffer *why)
{
    buffer url, prefix;
    buffer_init(&url, 0);
    buffer_init(&prefix, 0);
    buffer_appendf(&prefix, "%s/input/", buffer_cstr(&s->prefix));
    buffer_appendf(&url, "%s?restype=container&comp=list&maxresults=1&prefix=",
                   buffer_cstr(&s->container_url));
    url_encode_into(&url, buffer_cstr(&prefix), false);
    buffer_appendf(&url, "&%s", buffer_cstr(&s->read_sas));
    http_exchange x;
    http_exchange_init(&x, "GET", buffer_cstr(&url));
    http_exchange_set_header(&x, "x-ms-version", SAS_VERSION);
    input_check result;
    buffer where;
    buffer_init(&where, 0);
    storage_location(s, "input/", &where);
    if (!http_client_run_one(http, &x)) {
        result = INPUTS_CANCELLED;
    } else if (x.status == 200) {
        /* The listing is XML: a <Blob> element means at least one input. */
        bool found = x.response.len && strstr(buffer_cstr(&x.response), "<Blob>") != NULL;
        result = found ? INPUTS_PRESENT : INPUTS_MISSING;
        if (!found)
            buffer_appendf(why, "no input blobs under %s: upload the inputs there first",
                           buffer_cstr(&where));
    } else if (x.status == 404) {
        result = INPUTS_MISSING;
        buffer_appendf(why, "the container %s does not exist", buffer_cstr(&s->container_url));
    } else if (x.status == 403 || x.status == 401) {
        result = INPUTS_REFUSED;
        buffer_appendf(why, "storage refused the signature (HTTP %ld) listing %s: check "
                            "STORAGEACCOUNT and STORAGEKEY", x.status, buffer_cstr(&where));
    } else if (x.status >= 400 && x.status < 500 && x.status != 408 && x.status != 429) {
        result = INPUTS_REFUSED;
        buffer_appendf(why, "storage refused listing %s (HTTP %ld)", buffer_cstr(&where),
                       x.status);
    } else {
        result = INPUTS_UNREACHABLE;
        buffer_appendf(why, "storage did not answer listing %s: %s", buffer_cstr(&where),
                       x.status ? "server error" : x.error);
    }
    buffer_free(&where);
    http_exchange_free(&x);
    buffer_free(&url);
    buffer_free(&prefix);
    return result;
}
