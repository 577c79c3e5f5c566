/* The webhook's options; see webhook_config.h. */
#include "webhook_config.h"

#include <ctype.h>
#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "azure_names.h"
#include "offload_contract.h"
#include "platform_settings.h"
#include "tls.h"

typedef enum { OPTION_TEXT, OPTION_NUMBER, OPTION_SWITCH } option_kind;

typedef struct option_spec {
    const char *name; /* --name; the variable is BATCH_OFFLOAD_NAME */
    option_kind kind;
    size_t offset;
    const char *default_value;
    long min, max;
    const char *help;
} option_spec;

#define TEXT(field, def, help) OPTION_TEXT, offsetof(webhook_config, field), def, 0, 0, help
#define NUMBER(field, def, lo, hi, help)                                                           \
    OPTION_NUMBER, offsetof(webhook_config, field), def, lo, hi, help
#define SWITCH(field, help) OPTION_SWITCH, offsetof(webhook_config, field), "false", 0, 1, help

static const option_spec options[] = {
    {"listen", TEXT(listen, "0.0.0.0:8443", "address and port to serve HTTPS on")},
    {"tls-cert", TEXT(tls_cert, "", "serving certificate chain (PEM); reloaded when it changes")},
    {"tls-key", TEXT(tls_key, "", "serving private key (PEM); reloaded when it changes")},
    {"offloader-image", TEXT(offloader_image, "", "image of the offloader pod")},
    {"credentials-secret",
     TEXT(credentials_secret, "batch-offload-credentials",
          "Secret in the Job's namespace holding the Batch and storage credentials")},
    {"default-pool", TEXT(default_pool, "", "Batch pool for Jobs that name none (empty: an "
                                            "auto pool per job)")},
    {"allowed-pools", TEXT(allowed_pools, "", "comma-separated pools Jobs may name (empty: any)")},
    {"max-completions",
     NUMBER(max_completions, "10000", 1, OFFLOAD_MAX_COMPLETIONS,
            "largest spec.completions offloaded (at most " OFFLOAD_STRINGIFY(
                OFFLOAD_MAX_COMPLETIONS) ", Kubernetes' own limit for Indexed Jobs)")},
    {"default-storage-container",
     TEXT(default_storage_container, "batch-offload", "Blob container for inputs and outputs")},
    {"default-vm-size", TEXT(default_vm_size, "", "VM size for auto pools (empty: the "
                                                  "offloader's default)")},
    {"allowed-namespaces",
     TEXT(allowed_namespaces, "", "comma-separated namespaces that may offload (empty: all)")},
    {"offloader-service-account",
     TEXT(offloader_service_account, "", "ServiceAccount of offloader pods (empty: default)")},
    {"workload-identity",
     SWITCH(workload_identity, "give offloader pods Entra workload identity (label and token)")},
    {"offloader-api-access",
     SWITCH(offloader_api_access, "give offloader pods a Kubernetes API token and their pod's "
                                  "name, for their Job's result, progress and events and a "
                                  "SIGTERM's cause (docs/KUBERNETES.md)")},
    {"offloader-backoff-limit",
     NUMBER(offloader_backoff_limit, "3", 0, 100,
            "offloader pod retries after infrastructure failures (exit code 3)")},
    {"offloader-auth",
     TEXT(offloader_auth, "", "how offloader pods authenticate: " OFFLOAD_AUTH_NAMES
                              " (empty: from what is set)")},
    {"pool-image", TEXT(pool_image, "", "auto pools' VM image publisher:offer:sku:version "
                                        "(empty: " OFFLOAD_DEFAULT_POOL_IMAGE ")")},
    {"node-agent-sku", TEXT(node_agent_sku, "", "node agent SKU matching --pool-image (empty: "
                                                OFFLOAD_DEFAULT_NODE_AGENT_SKU ")")},
    {"task-slots-per-node",
     NUMBER(task_slots_per_node, "0", 0, 256,
            "tasks per auto pool node at once (0: "
            OFFLOAD_STRINGIFY(OFFLOAD_DEFAULT_TASK_SLOTS_PER_NODE) ")")},
    {"node-fill-type", TEXT(node_fill_type, "", "spread or pack tasks over nodes (empty: "
                                                OFFLOAD_DEFAULT_NODE_FILL_TYPE ")")},
    {"autoscale-formula",
     TEXT(autoscale_formula, "", "auto pools' autoscale formula (empty: follow pending tasks)")},
    {"max-nodes", NUMBER(max_nodes, "0", 0, 10000,
                         "largest auto pool (0: the offloader's "
                         OFFLOAD_STRINGIFY(OFFLOAD_DEFAULT_MAX_NODES) ")")},
    {"spot-fallback",
     TEXT(spot_fallback, "", "auto pools whose Spot nodes cannot be had: " OFFLOAD_SPOT_FALLBACK_NAMES
                             " (empty: " OFFLOAD_DEFAULT_SPOT_FALLBACK ")")},
    {"spot-fallback-seconds",
     NUMBER(spot_fallback_seconds, "0", 0, 86400,
            "seconds without Spot nodes before --spot-fallback=dedicated switches (0: "
            OFFLOAD_STRINGIFY(OFFLOAD_DEFAULT_SPOT_FALLBACK_SECONDS) ")")},
    {"gpu-pool", TEXT(gpu_pool, "", "Batch pool (of GPU VMs) for Jobs whose worker asks for "
                                    OFFLOAD_GPU_RESOURCE " and names no pool (empty: an auto "
                                    "pool of --gpu-vm-size)")},
    {"gpu-vm-size",
     TEXT(gpu_vm_size, "", "VM size of GPU Jobs' auto pools, one task per node (with neither "
                           "this nor --gpu-pool, GPU Jobs are refused)")},
    {"gpu-pool-image",
     TEXT(gpu_pool_image, "", "GPU auto pools' VM image, with NVIDIA drivers and container "
                              "runtime (empty: " OFFLOAD_DEFAULT_POOL_IMAGE ")")},
    {"gpu-node-agent-sku",
     TEXT(gpu_node_agent_sku, "", "node agent SKU matching --gpu-pool-image (empty: "
                                  OFFLOAD_DEFAULT_NODE_AGENT_SKU ")")},
    {"secret-env",
     TEXT(secret_env, "warn", "Jobs whose worker takes env values from Secrets, which on Azure "
                              "Batch anyone with read access to the account can read: warn, or "
                              "deny them")},
    {"threads", NUMBER(threads, "2", 0, 64,
                       "worker threads, each decoding one review at a time (0: one per CPU, at "
                       "most 16)")},
    {"max-connections", NUMBER(max_connections, "1024", 1, 100000, "open connections at most")},
    {"header-timeout",
     NUMBER(header_timeout, "10", 1, 600, "seconds to complete the TLS handshake and request head")},
    {"body-timeout", NUMBER(body_timeout, "10", 1, 600, "seconds to receive a request body")},
    {"idle-timeout",
     NUMBER(idle_timeout, "90", 1, 3600, "seconds a keep-alive connection may stay idle")},
    {"max-body-bytes", NUMBER(max_body_bytes, "3145728", 1024, 67108864,
                              "largest request body; larger ones get 413")},
    {"max-buffered-bytes",
     NUMBER(max_buffered_bytes, "16777216", 65536, 1073741824,
            "request and answer bytes held by all connections together; past it: 503")},
    {"shutdown-delay", NUMBER(shutdown_delay, "0", 0, 600,
                              "seconds to keep serving, not ready, after SIGTERM")},
    {"drain-timeout", NUMBER(drain_timeout, "20", 0, 3600,
                             "seconds to let in-flight requests finish after SIGTERM")},
    {"log-level", TEXT(log_level, "info", "debug, info, warn or error")},
};
#define OPTION_COUNT (sizeof(options) / sizeof(options[0]))

static void env_name(const option_spec *o, char *out, size_t size)
{
    size_t n = (size_t)snprintf(out, size, "BATCH_OFFLOAD_");
    for (const char *c = o->name; *c && n + 1 < size; c++)
        out[n++] = *c == '-' ? '_' : (char)toupper((unsigned char)*c);
    out[n] = '\0';
}

static bool set_option(webhook_config *config, const option_spec *o, const char *value,
                       const char *source, FILE *err)
{
    void *field = (char *)config + o->offset;
    if (o->kind == OPTION_TEXT) {
        char *copy = strdup(value);
        if (!copy)
            return false;
        free(*(char **)field);
        *(char **)field = copy;
        return true;
    }
    if (o->kind == OPTION_SWITCH) {
        if (strcmp(value, "true") == 0 || strcmp(value, "1") == 0) {
            *(bool *)field = true;
            return true;
        }
        if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0) {
            *(bool *)field = false;
            return true;
        }
        fprintf(err, "offload-webhook: %s: expected true or false, got \"%.64s\"\n", source,
                value);
        return false;
    }
    char *end;
    errno = 0;
    long n = strtol(value, &end, 10);
    if (errno || end == value || *end || n < o->min || n > o->max) {
        fprintf(err, "offload-webhook: %s: expected a whole number from %ld to %ld, got \"%.64s\"\n",
                source, o->min, o->max, value);
        return false;
    }
    *(long *)field = n;
    return true;
}

static void print_help(FILE *out)
{
    fprintf(out,
            "usage: offload-webhook --tls-cert FILE --tls-key FILE --offloader-image IMAGE "
            "[options]\n\n"
            "The batch-offload mutating admission webhook: Jobs annotated\n"
            "batch-offload.io/enabled: \"true\" become one offloader pod that runs their work\n"
            "on Azure Batch. Serves POST /mutate, GET /healthz, /readyz and /metrics over HTTPS.\n\n"
            "options (each also read from the environment variable shown):\n");
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        char env[64];
        env_name(&options[i], env, sizeof(env));
        const option_spec *o = &options[i];
        fprintf(out, "  --%s%s\n      %s [%s", o->name,
                o->kind == OPTION_SWITCH ? "" : o->kind == OPTION_NUMBER ? " N" : " VALUE",
                o->help, env);
        if (o->default_value[0] && o->kind != OPTION_SWITCH)
            fprintf(out, ", default %s", o->default_value);
        fprintf(out, "]\n");
    }
    fprintf(out, "  --help     this text\n  --version  version and TLS library\n\n"
                 "SIGTERM: stop accepting, finish in-flight requests, exit. SIGHUP: reload the "
                 "certificate now.\n");
}

static const option_spec *find_option(const char *name, size_t len)
{
    for (size_t i = 0; i < OPTION_COUNT; i++)
        if (strlen(options[i].name) == len && strncmp(options[i].name, name, len) == 0)
            return &options[i];
    return NULL;
}

/* Values that must agree with each other or with Azure's and Kubernetes'
 * naming rules. */
static bool check_list(const char *list, bool (*valid)(const char *), const char *option,
                       const char *what, FILE *err)
{
    char *copy = strdup(list);
    bool ok = copy != NULL;
    for (char *save = NULL, *item = copy ? strtok_r(copy, ",", &save) : NULL; ok && item;
         item = strtok_r(NULL, ",", &save)) {
        if (!valid(item)) {
            fprintf(err, "offload-webhook: --%s: \"%.64s\" is not %s\n", option, item, what);
            ok = false;
        }
    }
    free(copy);
    return ok;
}

/* A DNS-1123 label: how Kubernetes names namespaces. */
static bool is_dns_label(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-'))
            return false;
    return true;
}

/* A DNS-1123 subdomain: how Kubernetes names Secrets and ServiceAccounts. */
static bool is_dns_subdomain(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253)
        return false;
    char *copy = strdup(s);
    bool ok = copy != NULL;
    for (char *save = NULL, *label = copy ? strtok_r(copy, ".", &save) : NULL; ok && label;
         label = strtok_r(NULL, ".", &save))
        ok = is_dns_label(label);
    free(copy);
    return ok && s[0] != '.' && s[n - 1] != '.' && !strstr(s, "..");
}

static bool check_config(webhook_config *c, FILE *err)
{
    static const char *const required[][2] = {{"tls-cert", "the serving certificate file"},
                                              {"tls-key", "the serving key file"},
                                              {"offloader-image", "the offloader's image"}};
    const char *values[] = {c->tls_cert, c->tls_key, c->offloader_image};
    for (size_t i = 0; i < 3; i++) {
        if (!values[i][0]) {
            fprintf(err, "offload-webhook: --%s is required (%s)\n", required[i][0],
                    required[i][1]);
            return false;
        }
    }
    if (!image_reference_is_valid(c->offloader_image)) {
        fprintf(err, "offload-webhook: --offloader-image: \"%.128s\" is not an image reference\n",
                c->offloader_image);
        return false;
    }
    if (!is_dns_subdomain(c->credentials_secret)) {
        fprintf(err, "offload-webhook: --credentials-secret: \"%.64s\" is not a Secret name\n",
                c->credentials_secret);
        return false;
    }
    if (c->offloader_service_account[0] && !is_dns_subdomain(c->offloader_service_account)) {
        fprintf(err, "offload-webhook: --offloader-service-account: \"%.64s\" is not a "
                     "ServiceAccount name\n", c->offloader_service_account);
        return false;
    }
    if (!check_list(c->allowed_pools, azure_batch_id_is_valid, "allowed-pools",
                    "a Batch pool ID", err) ||
        !check_list(c->allowed_namespaces, is_dns_label, "allowed-namespaces", "a namespace",
                    err))
        return false;
    if (c->default_pool[0] && !azure_batch_id_is_valid(c->default_pool)) {
        fprintf(err, "offload-webhook: --default-pool: \"%.64s\" is not a Batch pool ID\n",
                c->default_pool);
        return false;
    }
    if (c->default_pool[0] && c->allowed_pools[0] &&
        !list_contains(c->allowed_pools, c->default_pool)) {
        fprintf(err, "offload-webhook: --default-pool \"%s\" is not in --allowed-pools\n",
                c->default_pool);
        return false;
    }
    if (c->gpu_pool[0] && !azure_batch_id_is_valid(c->gpu_pool)) {
        fprintf(err, "offload-webhook: --gpu-pool: \"%.64s\" is not a Batch pool ID\n",
                c->gpu_pool);
        return false;
    }
    if (c->gpu_pool[0] && c->allowed_pools[0] && !list_contains(c->allowed_pools, c->gpu_pool)) {
        fprintf(err, "offload-webhook: --gpu-pool \"%s\" is not in --allowed-pools\n",
                c->gpu_pool);
        return false;
    }
    if (c->gpu_vm_size[0] && !azure_vm_size_is_valid(c->gpu_vm_size)) {
        fprintf(err, "offload-webhook: --gpu-vm-size: \"%.64s\" is not a VM size\n",
                c->gpu_vm_size);
        return false;
    }
    if (c->gpu_pool_image[0] && !azure_marketplace_image_is_valid(c->gpu_pool_image)) {
        fprintf(err, "offload-webhook: --gpu-pool-image: expected publisher:offer:sku:version\n");
        return false;
    }
    if (c->default_vm_size[0] && !azure_vm_size_is_valid(c->default_vm_size)) {
        fprintf(err, "offload-webhook: --default-vm-size: \"%.64s\" is not a VM size\n",
                c->default_vm_size);
        return false;
    }
    if (!azure_container_name_is_valid(c->default_storage_container)) {
        fprintf(err, "offload-webhook: --default-storage-container: \"%.64s\" is not a Blob "
                     "container name\n", c->default_storage_container);
        return false;
    }
    offload_auth auth;
    if (c->offloader_auth[0] && !offload_auth_from_name(c->offloader_auth, &auth)) {
        fprintf(err, "offload-webhook: --offloader-auth: expected " OFFLOAD_AUTH_NAMES "\n");
        return false;
    }
    if (c->node_fill_type[0] && strcmp(c->node_fill_type, "spread") != 0 &&
        strcmp(c->node_fill_type, "pack") != 0) {
        fprintf(err, "offload-webhook: --node-fill-type: expected spread or pack\n");
        return false;
    }
    if (c->spot_fallback[0] && !offload_spot_fallback_is_valid(c->spot_fallback)) {
        fprintf(err, "offload-webhook: --spot-fallback: expected " OFFLOAD_SPOT_FALLBACK_NAMES
                     ", got \"%.64s\"\n", c->spot_fallback);
        return false;
    }
    if (c->pool_image[0] && !azure_marketplace_image_is_valid(c->pool_image)) {
        fprintf(err, "offload-webhook: --pool-image: expected publisher:offer:sku:version\n");
        return false;
    }
    if (strcmp(c->secret_env, "warn") != 0 && strcmp(c->secret_env, "deny") != 0) {
        fprintf(err, "offload-webhook: --secret-env: expected warn or deny\n");
        return false;
    }
    static const char *const levels[] = {"debug", "info", "warn", "error"};
    bool level_ok = false;
    for (size_t i = 0; i < 4; i++)
        level_ok |= strcmp(c->log_level, levels[i]) == 0;
    if (!level_ok) {
        fprintf(err, "offload-webhook: --log-level: expected debug, info, warn or error\n");
        return false;
    }
    if (c->max_buffered_bytes < c->max_body_bytes + HEAD_LIMIT_BYTES) {
        fprintf(err, "offload-webhook: --max-buffered-bytes (%ld) must hold at least one request "
                     "of --max-body-bytes (%ld) and its head (%d)\n",
                c->max_buffered_bytes, c->max_body_bytes, HEAD_LIMIT_BYTES);
        return false;
    }
    if (c->threads == 0) {
        cpu_set_t cpus;
        c->threads = sched_getaffinity(0, sizeof(cpus), &cpus) == 0 ? CPU_COUNT(&cpus) : 2;
        if (c->threads > 16)
            c->threads = 16;
    }
    return true;
}

config_result webhook_config_load(webhook_config *config, int argc, char **argv, FILE *out,
                                  FILE *err)
{
    memset(config, 0, sizeof(*config));
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        char env[64];
        env_name(&options[i], env, sizeof(env));
        const char *from_env = getenv(env);
        if (!set_option(config, &options[i], options[i].default_value, "default", err) ||
            (from_env && !set_option(config, &options[i], from_env, env, err)))
            return CONFIG_EXIT_USAGE;
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            print_help(out);
            return CONFIG_EXIT_OK;
        }
        if (strcmp(arg, "--version") == 0) {
            fprintf(out, "offload-webhook %s (%s)\n", BATCH_OFFLOAD_VERSION,
                    tls_backend_version());
            return CONFIG_EXIT_OK;
        }
        const char *eq = strchr(arg, '=');
        size_t name_len = eq ? (size_t)(eq - arg - 2) : strlen(arg) - 2;
        const option_spec *o = strncmp(arg, "--", 2) == 0 ? find_option(arg + 2, name_len) : NULL;
        if (!o) {
            fprintf(err, "offload-webhook: unknown option \"%.64s\" (see --help)\n", arg);
            return CONFIG_EXIT_USAGE;
        }
        const char *value = eq ? eq + 1 : NULL;
        if (!value && o->kind == OPTION_SWITCH)
            value = "true";
        if (!value && i + 1 < argc)
            value = argv[++i];
        if (!value) {
            fprintf(err, "offload-webhook: --%s needs a value\n", o->name);
            return CONFIG_EXIT_USAGE;
        }
        char source[80];
        snprintf(source, sizeof(source), "--%s", o->name);
        if (!set_option(config, o, value, source, err))
            return CONFIG_EXIT_USAGE;
    }
    return check_config(config, err) ? CONFIG_RUN : CONFIG_EXIT_USAGE;
}

void webhook_config_free(webhook_config *config)
{
    for (size_t i = 0; i < OPTION_COUNT; i++)
        if (options[i].kind == OPTION_TEXT) {
            char **field = (char **)((char *)config + options[i].offset);
            free(*field);
            *field = NULL;
        }
}
