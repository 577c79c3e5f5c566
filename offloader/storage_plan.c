/* The storage plan; see storage_plan.h. */
#include "storage_plan.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base64.h"
#include "sas.h"
#include "storage_version.h"
#include "url.h"
#include "user_delegation_key.h"

#define SAS_MARGIN_SECONDS 3600
#define SAS_DEFAULT_LIFETIME_SECONDS (7 * 24 * 3600) /* Batch keeps tasks 7 days by default */
#define CLOCK_SKEW_SECONDS 900

#define DELEGATION_KEY_MAX_SECONDS (7 * 24 * 3600) /* the service's limit */

static bool is_loopback_http(const char *url)
{
    url_parts parts;
    return url_split(url, &parts) && parts.scheme_len == 4 && url_is_secure_or_loopback(&parts);
}

void storage_plan_init(storage_plan *s)
{
    memset(s, 0, sizeof(*s));
    buffer_init(&s->container_url, 0);
    buffer_init(&s->service_url, 0);
    buffer_init(&s->read_sas, 0);
    buffer_init(&s->write_sas, 0);
    buffer_init(&s->prefix, 0);
    buffer_init(&s->input_prefix, 0);
}

void storage_plan_free(storage_plan *s)
{
    buffer_free(&s->container_url);
    buffer_free(&s->service_url);
    buffer_free(&s->read_sas);
    buffer_free(&s->write_sas);
    buffer_free(&s->prefix);
    buffer_free(&s->input_prefix);
}

void storage_plan_layout(storage_plan *s, const offloader_config *c, const azure_account *a)
{
    storage_plan_free(s);
    storage_plan_init(s);
    if (!a->storage_account)
        return; /* no storage: tasks get no files */
    s->enabled = true;
    if (a->blob_endpoint)
        buffer_append_str(&s->service_url, a->blob_endpoint);
    else
        buffer_appendf(&s->service_url, "https://%s.blob.core.windows.net", a->storage_account);
    while (s->service_url.len && s->service_url.data[s->service_url.len - 1] == '/')
        s->service_url.data[--s->service_url.len] = '\0';
    buffer_appendf(&s->container_url, "%s/%s", buffer_cstr(&s->service_url), c->container);
    buffer_append_str(&s->prefix, c->blob_prefix);
    buffer_append_str(&s->input_prefix, c->input_prefix ? c->input_prefix : c->blob_prefix);
    s->has_inputs = true; /* until a listing finds none */
}

/* The two grants every job needs, differing only in permissions. */
static bool sign_both(storage_plan *s, sas_grant *grant, buffer *errors)
{
    buffer_reset(&s->read_sas);
    buffer_reset(&s->write_sas);
    grant->permissions = "rl";
    bool ok = sas_query_string(grant, &s->read_sas);
    grant->permissions = "cw";
    ok = ok && sas_query_string(grant, &s->write_sas);
    if (!ok)
        buffer_append_str(errors, "cannot sign the storage SAS\n");
    return ok;
}

static sas_grant grant_for(const storage_plan *s, const offloader_config *c,
                           const azure_account *a, int64_t deadline)
{
    time_t now = time(NULL);
    int64_t lifetime = deadline > 0 ? deadline + SAS_MARGIN_SECONDS : SAS_DEFAULT_LIFETIME_SECONDS;
    return (sas_grant){
        .account = a->storage_account,
        .container = c->container,
        .start = now - CLOCK_SKEW_SECONDS,
        .expiry = now + (time_t)lifetime,
        .allow_http = is_loopback_http(buffer_cstr(&s->container_url)),
    };
}

bool storage_plan_sign_with_key(storage_plan *s, const offloader_config *c,
                                const azure_account *a, int64_t deadline, buffer *errors)
{
    if (!s->enabled)
        return true;
    uint8_t key[128];
    size_t key_len = 0;
    if (!a->storage_key_text ||
        !base64_decode(a->storage_key_text, strlen(a->storage_key_text), key, sizeof(key),
                       &key_len)) {
        buffer_appendf(errors, "the %s storage account key is missing or not base64\n",
                       a->label);
        return false;
    }
    sas_grant grant = grant_for(s, c, a, deadline);
    grant.key = key;
    grant.key_len = key_len;
    bool ok = sign_both(s, &grant, errors);
    memset(key, 0, sizeof(key));
    return ok;
}

bool storage_plan_sign_with_identity(storage_plan *s, const offloader_config *c,
                                     const azure_account *a, int64_t deadline,
                                     http_client *http, entra_tokens *tokens, buffer *errors)
{
    if (!s->enabled)
        return true;
    char error[256];
    bool refused;
    const char *token = entra_token_for(tokens, &ENTRA_STORAGE, error, sizeof(error), &refused);
    if (!token) {
        buffer_appendf(errors, "no Entra ID token for storage: %s\n", error);
        return false;
    }
    sas_grant grant = grant_for(s, c, a, deadline);
    if (grant.expiry - time(NULL) > DELEGATION_KEY_MAX_SECONDS)
        grant.expiry = time(NULL) + DELEGATION_KEY_MAX_SECONDS - 60;
    user_delegation_key key;
    if (!user_delegation_key_request(http, buffer_cstr(&s->service_url), token, grant.start,
                                     grant.expiry, &key, errors))
        return false;
    grant.delegation = &key;
    bool ok = sign_both(s, &grant, errors);
    memset(&key, 0, sizeof(key));
    return ok;
}

void storage_plan_sign_placeholder(storage_plan *s)
{
    buffer_reset(&s->read_sas);
    buffer_reset(&s->write_sas);
    buffer_append_str(&s->read_sas, "user-delegation-SAS-made-at-run-time&sp=rl");
    buffer_append_str(&s->write_sas, "user-delegation-SAS-made-at-run-time&sp=cw");
}

void storage_location(const storage_plan *s, const char *part, buffer *out)
{
    buffer_appendf(out, "%s/%s/%s", buffer_cstr(&s->container_url), buffer_cstr(&s->prefix),
                   part);
}

void storage_input_location(const storage_plan *s, buffer *out)
{
    buffer_appendf(out, "%s/%s/input/", buffer_cstr(&s->container_url),
                   buffer_cstr(&s->input_prefix));
}

input_check storage_check_inputs(const storage_plan *s, http_client *http, buffer *why)
{
    buffer url, prefix;
    buffer_init(&url, 0);
    buffer_init(&prefix, 0);
    buffer_appendf(&prefix, "%s/input/", buffer_cstr(&s->input_prefix));
    buffer_appendf(&url, "%s?restype=container&comp=list&maxresults=1&prefix=",
                   buffer_cstr(&s->container_url));
    url_encode_into(&url, buffer_cstr(&prefix), false);
    buffer_appendf(&url, "&%s", buffer_cstr(&s->read_sas));
    http_exchange x;
    http_exchange_init(&x, "GET", buffer_cstr(&url));
    http_exchange_set_header(&x, "x-ms-version", STORAGE_SERVICE_VERSION);
    input_check result;
    buffer where;
    buffer_init(&where, 0);
    storage_input_location(s, &where);
    if (!http_client_run_one(http, &x)) {
        result = INPUTS_CANCELLED;
    } else if (x.status == 200) {
        /* The listing is XML: a <Blob> element means at least one input. */
        bool found = x.response.len && strstr(buffer_cstr(&x.response), "<Blob>") != NULL;
        result = found ? INPUTS_PRESENT : INPUTS_MISSING;
        if (!found)
            buffer_appendf(why, "no input blobs under %s", buffer_cstr(&where));
    } else if (x.status == 404) {
        result = INPUTS_NO_CONTAINER;
        buffer_appendf(why, "the container %s does not exist", buffer_cstr(&s->container_url));
    } else if (x.status == 403 || x.status == 401) {
        result = INPUTS_REFUSED;
        buffer_appendf(why, "storage refused the signature (HTTP %ld) listing %s: check "
                            "STORAGEACCOUNT and STORAGEKEY", x.status, buffer_cstr(&where));
    } else if (http_exchange_answer(&x) == ANSWER_REFUSED) {
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
