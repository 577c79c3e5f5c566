/* The offloader's environment; see offloader_config.h.
 *
 * One table row per variable: where it goes, whether it is required, the
 * check it must pass and what that check allows (printed in the error and
 * in --help). Cross-variable rules come after the table. */
#include "offloader_config.h"

#include <errno.h>
#include <unistd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "azure_names.h"
#include "base64.h"
#include "json_reader.h"
#include "json_shape.h"
#include "offload_contract.h"
#include "redact.h"
#include "url.h"
#include "worker_spec.h"

typedef enum { VALUE_TEXT, VALUE_NUMBER, VALUE_SWITCH } value_kind;

typedef bool (*value_check)(const char *value);

typedef struct variable_spec {
    const char *name;
    value_kind kind;
    size_t offset;
    bool required;
    bool secret;
    const char *default_value;
    long min, max;
    value_check check;
    const char *allowed; /* what the check accepts, for messages */
} variable_spec;

static bool is_account_url(const char *v)
{
    url_parts parts;
    return url_split(v, &parts) && url_is_secure_or_loopback(&parts) && !parts.query;
}

static bool is_account_key(const char *v)
{
    uint8_t key[128];
    size_t n;
    return base64_decode(v, strlen(v), key, sizeof(key), &n) && n >= 16;
}

static bool is_batch_account(const char *v)
{
    return azure_storage_account_is_valid(v); /* same rule: 3-24 lowercase letters and digits */
}

static bool is_json_object(const char *v)
{
    json_document doc;
    char error[64];
    if (!json_document_parse(&doc, v, strlen(v), WORKER_SPEC_TOKENS, error, sizeof(error)))
        return false;
    bool ok = json_type_of(&doc, 0) == JSON_OBJECT;
    json_document_free(&doc);
    return ok;
}


static bool is_registry_host(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n > 253)
        return false;
    for (const char *c = v; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '.' || *c == '-' || *c == ':'))
            return false;
    return true;
}

static bool is_not_empty(const char *v)
{
    return v[0] != '\0';
}

static bool is_api_version(const char *v)
{
    /* yyyy-mm-dd.major.minor, as the service names its versions */
    int y, m, d, major, minor;
    char tail;
    return sscanf(v, "%4d-%2d-%2d.%d.%d%c", &y, &m, &d, &major, &minor, &tail) == 5;
}

static bool is_auth_method(const char *v)
{
    offload_auth method;
    return strcmp(v, "auto") == 0 || offload_auth_from_name(v, &method);
}

static bool is_fill_type(const char *v)
{
    return strcmp(v, "spread") == 0 || strcmp(v, "pack") == 0;
}

static bool is_printable(const char *v)
{
    if (!*v || strlen(v) > 8192)
        return false;
    for (const unsigned char *c = (const unsigned char *)v; *c; c++)
        if (*c < 0x20 && *c != '\n' && *c != '\t')
            return false;
    return true;
}

static bool is_guid_or_name(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n > 128)
        return false;
    for (const char *c = v; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '-' || *c == '.' || *c == '_'))
            return false;
    return true;
}

static bool is_endpoint(const char *v)
{
    url_parts parts;
    if (!url_split(v, &parts) || parts.query)
        return false;
    /* IMDS is plain HTTP on a link-local address, by design. */
    return url_is_secure_or_loopback(&parts) ||
           (parts.host_len == 15 && memcmp(parts.host, "169.254.169.254", 15) == 0);
}

#define FIELD(f) offsetof(offloader_config, f)
#define TEXT VALUE_TEXT
#define ACCOUNT_VARIABLES(prefix, account)                                                         \
    {prefix "BATCHCONNECTIONSTRING", TEXT, FIELD(account.batch_url), false, false, NULL, 0, 0,    \
     is_account_url, "the Batch account URL: https://..., or http:// to a loopback emulator"},    \
        {prefix "BATCHNAME", TEXT, FIELD(account.batch_name), false, false, NULL, 0, 0,           \
         is_batch_account, "the Batch account name: 3-24 lowercase letters and digits"},           \
        {prefix "BATCHPASSWORD", TEXT, FIELD(account.batch_key_text), false, true, NULL, 0, 0,    \
         is_account_key, "the Batch account key (base64)"},                                        \
        {prefix "STORAGEACCOUNT", TEXT, FIELD(account.storage_account), false, false, NULL, 0, 0, \
         azure_storage_account_is_valid,                                                           \
         "a storage account name: 3-24 lowercase letters and digits"},                             \
        {prefix "STORAGEKEY", TEXT, FIELD(account.storage_key_text), false, true, NULL, 0, 0,     \
         is_account_key, "the storage account key (base64)"},                                      \
        {prefix "BLOBENDPOINT", TEXT, FIELD(account.blob_endpoint), false, false, NULL, 0, 0,     \
         is_account_url, "the Blob service URL: https://..., or http:// to a loopback emulator"}

static const variable_spec variables[] = {
    ACCOUNT_VARIABLES("", primary),
    {OFFLOAD_ENV_JOB_ID, TEXT, FIELD(job_id), true, false, NULL, 0, 0, azure_batch_id_is_valid,
     "a Batch job ID: 1-64 letters, digits, '-' or '_'"},
    {OFFLOAD_ENV_POOL_ID, TEXT, FIELD(pool_id), false, false, NULL, 0, 0, azure_batch_id_is_valid,
     "a Batch pool ID: 1-64 letters, digits, '-' or '_' (unset: an auto pool)"},
    {OFFLOAD_ENV_WORKER_IMAGE, TEXT, FIELD(worker_image), true, false, NULL, 0, 0,
     image_reference_is_valid, "a container image reference"},
    {OFFLOAD_ENV_COMPLETIONS, VALUE_NUMBER, FIELD(completions), true, false, NULL, 1,
     OFFLOAD_MAX_COMPLETIONS, NULL,
     "a whole number from 1 to " OFFLOAD_STRINGIFY(OFFLOAD_MAX_COMPLETIONS)},
    {OFFLOAD_ENV_AGGREGATOR_IMAGE, TEXT, FIELD(aggregator_image), false, false, NULL, 0, 0,
     image_reference_is_valid, "a container image reference"},
    {OFFLOAD_ENV_AGGREGATOR_ARGS, TEXT, FIELD(aggregator_args), false, false, NULL, 0, 0,
     json_text_is_string_array, "a JSON array of strings"},
    {OFFLOAD_ENV_WORKER_SPEC, TEXT, FIELD(worker_spec), false, false, NULL, 0, 0, is_json_object,
     "a JSON object (the worker container, from the webhook)"},
    {"REGISTRYNAME", TEXT, FIELD(registry_server), false, false, NULL, 0, 0, is_registry_host,
     "a registry host such as myregistry.azurecr.io"},
    {"REGISTRYUSERNAME", TEXT, FIELD(registry_username), false, false, NULL, 0, 0, is_not_empty,
     "a user name"},
    {"REGISTRYPASSWORD", TEXT, FIELD(registry_password), false, true, NULL, 0, 0, is_not_empty,
     "a password"},
    {OFFLOAD_ENV_CONTAINER, TEXT, FIELD(container), false, false, NULL, 0, 0,
     azure_container_name_is_valid, "a Blob container name"},
    {OFFLOAD_ENV_BLOB_PREFIX, TEXT, FIELD(blob_prefix), false, false, NULL, 0, 0,
     azure_blob_prefix_is_valid, "a blob path prefix such as team/job-1"},
    {OFFLOAD_ENV_INPUT_PREFIX, TEXT, FIELD(input_prefix), false, false, NULL, 0, 0,
     azure_blob_prefix_is_valid,
     "a blob path prefix such as team/nightly (unset: the inputs are under BLOBPREFIX)"},
    {OFFLOAD_ENV_INPUTS, TEXT, FIELD(inputs), false, false, OFFLOAD_DEFAULT_INPUTS, 0, 0,
     offload_inputs_is_valid, "required or optional"},
    {OFFLOAD_ENV_PRIORITY, TEXT, FIELD(priority), false, false, OFFLOAD_DEFAULT_PRIORITY, 0, 0,
     offload_priority_is_valid, OFFLOAD_PRIORITY_NAMES},
    {OFFLOAD_ENV_VM_SIZE, TEXT, FIELD(vm_size), false, false, OFFLOAD_DEFAULT_VM_SIZE, 0, 0,
     azure_vm_size_is_valid, "an Azure VM size such as Standard_D2s_v3"},
    {OFFLOAD_ENV_KEEP_BATCH_JOB, VALUE_SWITCH, FIELD(keep_batch_job), false, false,
     OFFLOAD_DEFAULT_KEEP_BATCH_JOB, 0, 1, NULL,
     "true or false"},
    ACCOUNT_VARIABLES("SECONDARY_", secondary),
    {OFFLOAD_ENV_AUTH, TEXT, FIELD(auth_text), false, false, "auto", 0, 0, is_auth_method,
     "auto, " OFFLOAD_AUTH_NAMES},
    {"AZURE_TENANT_ID", TEXT, FIELD(tenant_id), false, false, NULL, 0, 0, is_guid_or_name,
     "the Entra tenant ID"},
    {"AZURE_CLIENT_ID", TEXT, FIELD(client_id), false, false, NULL, 0, 0, is_guid_or_name,
     "the Entra application (client) ID"},
    {"AZURE_CLIENT_SECRET", TEXT, FIELD(client_secret), false, true, NULL, 0, 0, is_not_empty,
     "the Entra application's client secret"},
    {"AZURE_FEDERATED_TOKEN_FILE", TEXT, FIELD(federated_token_file), false, false, NULL, 0, 0,
     is_not_empty, "the path of the projected service-account token (workload identity)"},
    {"AZURE_AUTHORITY_HOST", TEXT, FIELD(authority_host), false, false,
     "https://login.microsoftonline.com", 0, 0, is_endpoint, "the Entra authority URL"},
    {"BATCH_OFFLOAD_IMDS_ENDPOINT", TEXT, FIELD(imds_endpoint), false, false,
     "http://169.254.169.254", 0, 0, is_endpoint, "the instance metadata service URL"},
    {OFFLOAD_ENV_JOB_UID, TEXT, FIELD(job_uid), false, false, NULL, 0, 0, NULL, ""},
    {OFFLOAD_ENV_NAMESPACE, TEXT, FIELD(namespace_name), false, false, NULL, 0, 0, NULL, ""},
    {OFFLOAD_ENV_JOB_NAME, TEXT, FIELD(job_name), false, false, NULL, 0, 0, NULL, ""},
    {OFFLOAD_ENV_POD_NAME, TEXT, FIELD(pod_name), false, false, NULL, 0, 0, NULL, ""},
    {OFFLOAD_ENV_POD_UID, TEXT, FIELD(pod_uid), false, false, NULL, 0, 0, NULL, ""},
    {"BATCH_OFFLOAD_SERVICEACCOUNT_DIR", TEXT, FIELD(serviceaccount_dir), false, false, NULL, 0,
     0, is_not_empty, "the directory of the Kubernetes service account's token and ca.crt"},
    {"BATCH_OFFLOAD_API_VERSION", TEXT, FIELD(api_version), false, false, "2024-07-01.20.0", 0,
     0, is_api_version, "a Batch REST API version such as 2024-07-01.20.0"},
    {OFFLOAD_ENV_POOL_IMAGE, TEXT, FIELD(pool_image), false, false,
     OFFLOAD_DEFAULT_POOL_IMAGE, 0, 0, azure_marketplace_image_is_valid,
     "an auto pool's VM image: publisher:offer:sku:version"},
    {OFFLOAD_ENV_NODE_AGENT_SKU, TEXT, FIELD(node_agent_sku), false, false,
     OFFLOAD_DEFAULT_NODE_AGENT_SKU, 0, 0, is_printable,
     "the node agent SKU matching the image, such as \"batch.node.ubuntu 22.04\""},
    {OFFLOAD_ENV_TASK_SLOTS_PER_NODE, VALUE_NUMBER, FIELD(task_slots_per_node), false, false,
     OFFLOAD_STRINGIFY(OFFLOAD_DEFAULT_TASK_SLOTS_PER_NODE), 1, 256, NULL,
     "a whole number from 1 to 256"},
    {OFFLOAD_ENV_NODE_FILL_TYPE, TEXT, FIELD(node_fill_type), false, false,
     OFFLOAD_DEFAULT_NODE_FILL_TYPE, 0, 0,
     is_fill_type, "spread or pack"},
    {OFFLOAD_ENV_AUTOSCALE_FORMULA, TEXT, FIELD(autoscale_formula), false, false, NULL, 0, 0,
     is_printable, "an autoscale formula (unset: follow the pending tasks)"},
    {OFFLOAD_ENV_MAX_NODES, VALUE_NUMBER, FIELD(max_nodes), false, false,
     OFFLOAD_STRINGIFY(OFFLOAD_DEFAULT_MAX_NODES), 1, 10000,
     NULL, "a whole number from 1 to 10000"},
    {OFFLOAD_ENV_SPOT_FALLBACK, TEXT, FIELD(spot_fallback), false, false,
     OFFLOAD_DEFAULT_SPOT_FALLBACK, 0, 0, offload_spot_fallback_is_valid,
     OFFLOAD_SPOT_FALLBACK_NAMES " (what an auto pool without Spot nodes does)"},
    {OFFLOAD_ENV_SPOT_FALLBACK_SECONDS, VALUE_NUMBER, FIELD(spot_fallback_seconds), false, false,
     OFFLOAD_STRINGIFY(OFFLOAD_DEFAULT_SPOT_FALLBACK_SECONDS), 0, 86400, NULL,
     "seconds from 0 to 86400 (how long an auto pool waits for Spot nodes before "
     "\"dedicated\" acts)"},
    {"BATCH_OFFLOAD_RETRY_BUDGET_SECONDS", VALUE_NUMBER, FIELD(retry_budget_seconds), false,
     false, "300", 1, 86400, NULL, "seconds from 1 to 86400"},
    {"BATCH_OFFLOAD_POLL_MAX_SECONDS", VALUE_NUMBER, FIELD(poll_max_seconds), false, false, "30",
     1, 300, NULL, "seconds from 1 to 300"},
    {"BATCH_OFFLOAD_QUOTA_WAIT_MAX_SECONDS", VALUE_NUMBER, FIELD(quota_wait_seconds), false,
     false, "300", 1, 3600, NULL, "seconds from 1 to 3600"},
};
#define VARIABLE_COUNT (sizeof(variables) / sizeof(variables[0]))

static void problem(buffer *errors, const variable_spec *v, const char *value)
{
    if (!value) {
        buffer_appendf(errors, "%s is not set: it must be %s\n", v->name, v->allowed);
        return;
    }
    buffer_appendf(errors, "%s is ", v->name);
    if (v->secret) {
        buffer_append_str(errors, "not valid"); /* never echo a secret */
    } else { /* masked before it is cut, so a cut cannot hide a URL password from the mask */
        buffer shown;
        buffer_init(&shown, 0);
        redact_into(&shown, value, strlen(value));
        size_t n = shown.len;
        buffer_appendf(errors, "\"%.*s%s\"", (int)(n > 80 ? 80 : n), buffer_cstr(&shown),
                       n > 80 ? "..." : "");
        buffer_free(&shown);
    }
    buffer_appendf(errors, ": it must be %s\n", v->allowed);
}

static bool set_variable(offloader_config *c, const variable_spec *v, const char *value,
                         buffer *errors)
{
    void *field = (char *)c + v->offset;
    switch (v->kind) {
    case VALUE_TEXT:
        if (v->check && !v->check(value)) {
            problem(errors, v, value);
            return false;
        }
        *(char **)field = strdup(value);
        return *(char **)field != NULL;
    case VALUE_SWITCH:
        if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0) {
            problem(errors, v, value);
            return false;
        }
        *(bool *)field = strcmp(value, "true") == 0;
        return true;
    case VALUE_NUMBER: {
        /* Digits only: strtol would also take " 5" and "+5". */
        char *end;
        errno = 0;
        long n = strtol(value, &end, 10);
        if (!(value[0] >= '0' && value[0] <= '9') || errno || *end || n < v->min ||
            n > v->max) {
            problem(errors, v, value);
            return false;
        }
        *(long *)field = n;
        return true;
    }
    }
    return false;
}

static void decode_key(azure_account *a)
{
    if (a->batch_key_text)
        base64_decode(a->batch_key_text, strlen(a->batch_key_text), a->batch_key,
                      sizeof(a->batch_key), &a->batch_key_len);
    size_t len = a->batch_url ? strlen(a->batch_url) : 0;
    while (len > 0 && a->batch_url[len - 1] == '/')
        a->batch_url[--len] = '\0';
}

/* Picks the method: as told, or from what is set (a key first). */
static void choose_auth(offloader_config *c, buffer *errors)
{
    if (c->auth_text && offload_auth_from_name(c->auth_text, &c->auth))
        return;
    if (c->primary.batch_key_text)
        c->auth = OFFLOAD_AUTH_SHARED_KEY;
    else if (c->federated_token_file)
        c->auth = OFFLOAD_AUTH_WORKLOAD_IDENTITY;
    else if (c->client_secret)
        c->auth = OFFLOAD_AUTH_CLIENT_SECRET;
    else
        buffer_append_str(errors, "no credentials: set BATCHPASSWORD (shared key), or use Entra "
                                  "ID: workload identity (AZURE_CLIENT_ID, AZURE_TENANT_ID, "
                                  "AZURE_FEDERATED_TOKEN_FILE), a client secret "
                                  "(AZURE_CLIENT_SECRET), or BATCH_OFFLOAD_AUTH=managed-identity\n");
}

static void require(buffer *errors, bool present, const char *name, const char *why)
{
    if (!present)
        buffer_appendf(errors, "%s is not set: %s\n", name, why);
}

/* What one account needs for the chosen method. */
static void check_account(const offloader_config *c, const azure_account *a, const char *prefix,
                          bool needs_storage, buffer *errors)
{
    char name[64];
    snprintf(name, sizeof(name), "%sBATCHNAME", prefix);
    require(errors, a->batch_name != NULL, name, "it names the Batch account");
    if (c->auth == OFFLOAD_AUTH_SHARED_KEY) {
        snprintf(name, sizeof(name), "%sBATCHPASSWORD", prefix);
        require(errors, a->batch_key_text != NULL, name, "shared key authentication needs it");
    }
    if (needs_storage) {
        snprintf(name, sizeof(name), "%sSTORAGEACCOUNT", prefix);
        require(errors, a->storage_account != NULL, name,
                "the other account has storage, so this one needs it too for failover");
    }
    if (a->storage_account && c->auth == OFFLOAD_AUTH_SHARED_KEY) {
        snprintf(name, sizeof(name), "%sSTORAGEKEY", prefix);
        require(errors, a->storage_key_text != NULL, name,
                "shared key authentication signs storage SAS with it");
    }
}

/* Rules between variables (those about the work only for a run). */
static bool check_together(offloader_config *c, config_purpose purpose, buffer *errors)
{
    size_t before = errors->len;
    c->primary.label = "primary";
    c->secondary.label = "secondary";
    choose_auth(c, errors);
    require(errors, c->primary.batch_url != NULL, "BATCHCONNECTIONSTRING",
            "it must be the Batch account URL: https://..., or http:// to a loopback emulator");
    check_account(c, &c->primary, "", false, errors);
    if (c->secondary.batch_url)
        check_account(c, &c->secondary, "SECONDARY_", c->primary.storage_account != NULL,
                      errors);
    if (c->auth == OFFLOAD_AUTH_WORKLOAD_IDENTITY || c->auth == OFFLOAD_AUTH_CLIENT_SECRET) {
        require(errors, c->tenant_id != NULL, "AZURE_TENANT_ID", "Entra ID needs the tenant");
        require(errors, c->client_id != NULL, "AZURE_CLIENT_ID", "Entra ID needs the client ID");
    }
    if (c->auth == OFFLOAD_AUTH_WORKLOAD_IDENTITY) {
        require(errors, c->federated_token_file != NULL, "AZURE_FEDERATED_TOKEN_FILE",
                "workload identity reads the projected token from it");
        if (c->federated_token_file && access(c->federated_token_file, R_OK) != 0)
            buffer_appendf(errors, "AZURE_FEDERATED_TOKEN_FILE %s cannot be read: is the pod "
                                   "labelled azure.workload.identity/use=true?\n",
                           c->federated_token_file);
    }
    if (c->auth == OFFLOAD_AUTH_CLIENT_SECRET)
        require(errors, c->client_secret != NULL, "AZURE_CLIENT_SECRET",
                "client secret authentication needs it");
    c->entra = (entra_settings){
        .method = c->auth == OFFLOAD_AUTH_WORKLOAD_IDENTITY ? ENTRA_WORKLOAD_IDENTITY
                  : c->auth == OFFLOAD_AUTH_CLIENT_SECRET   ? ENTRA_CLIENT_SECRET
                                                    : ENTRA_MANAGED_IDENTITY,
        .tenant_id = c->tenant_id,
        .client_id = c->client_id,
        .client_secret = c->client_secret,
        .federated_token_file = c->federated_token_file,
        .authority_host = c->authority_host,
        .imds_endpoint = c->imds_endpoint,
    };
    decode_key(&c->primary);
    decode_key(&c->secondary);
    if (purpose == CONFIG_FOR_GC)
        return errors->len == before;
    if (c->job_uid && !c->job_uid[0])
        buffer_append_str(errors, "BATCH_OFFLOAD_JOB_UID is empty: the pod has no "
                                  "batch.kubernetes.io/controller-uid label (Kubernetes 1.27 "
                                  "or newer sets it), so the Batch job ID cannot be derived\n");
    bool user = c->registry_username != NULL, password = c->registry_password != NULL;
    if (user != password || (user && !c->registry_server))
        buffer_append_str(errors, "REGISTRYNAME, REGISTRYUSERNAME and REGISTRYPASSWORD go "
                                  "together: set all three or none\n");
    if (c->aggregator_args && !c->aggregator_image)
        buffer_append_str(errors, "AGGREGATORARGS is set but AGGREGATORIMAGENAME is not\n");
    c->inputs_required = c->inputs && strcmp(c->inputs, "required") == 0;
    if (c->primary.storage_account && (!c->container || !c->blob_prefix))
        buffer_append_str(errors, "STORAGEACCOUNT is set: CONTAINER and BLOBPREFIX must be "
                                  "set too\n");
    return errors->len == before;
}

bool offloader_config_uses_entra(const offloader_config *c)
{
    return c->auth != OFFLOAD_AUTH_SHARED_KEY;
}

bool offloader_config_load(offloader_config *c, config_purpose purpose, buffer *errors)
{
    memset(c, 0, sizeof(*c));
    bool ok = true;
    for (size_t i = 0; i < VARIABLE_COUNT; i++) {
        const variable_spec *v = &variables[i];
        const char *value = getenv(v->name);
        if (value && v->secret)
            redact_register_secret(value);
        if (!value && v->required && purpose == CONFIG_FOR_WORK) {
            problem(errors, v, NULL);
            ok = false;
            continue;
        }
        if (!value)
            value = v->default_value;
        if (value && !set_variable(c, v, value, errors))
            ok = false;
    }
    return check_together(c, purpose, errors) && ok;
}

void offloader_config_free(offloader_config *c)
{
    for (size_t i = 0; i < VARIABLE_COUNT; i++)
        if (variables[i].kind == VALUE_TEXT) {
            char **field = (char **)((char *)c + variables[i].offset);
            free(*field);
            *field = NULL;
        }
    memset(c->primary.batch_key, 0, sizeof(c->primary.batch_key));
    memset(c->secondary.batch_key, 0, sizeof(c->secondary.batch_key));
}

void offloader_config_describe(buffer *out)
{
    for (size_t i = 0; i < VARIABLE_COUNT; i++) {
        const variable_spec *v = &variables[i];
        if (!v->allowed[0])
            continue; /* set by the webhook's pod, not by people */
        buffer_appendf(out, "  %-36s %s%s", v->name, v->required ? "required: " : "", v->allowed);
        if (v->default_value)
            buffer_appendf(out, " (default %s)", v->default_value);
        buffer_append_char(out, '\n');
    }
}

retry_policy offloader_retry_policy(const offloader_config *c)
{
    return (retry_policy){.max_attempts = 0, .base_delay_ms = 500, .max_delay_ms = 30000,
                          .budget_ms = (uint64_t)c->retry_budget_seconds * 1000};
}
