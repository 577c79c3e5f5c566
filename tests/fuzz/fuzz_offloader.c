/* libFuzzer target over the offloader's parsers of outside input: the first
 * byte picks one, the rest is its input.
 *   0  WORKERSPEC (the worker container from the webhook) and the job plan built from it
 *   1  a docker config JSON from an imagePullSecret
 *   2  a user delegation key answer (XML)
 *   3  a Batch error body
 *   4  Kubernetes $(VAR) expansion
 *   5  a resource quantity
 *   6  a URL, and percent-decoding
 *   7  a Retry-After header
 *   8  an Entra ID token endpoint's answer
 * Besides crashes and sanitizer reports it checks invariants: expansion of a
 * text without '$' is the identity; a quoted word is never empty; a token
 * comes with a lifetime, a refusal with a reason. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "batch_client.h"
#include "command_line.h"
#include "entra_exchange.h"
#include "job_plan.h"
#include "log.h"
#include "offloader_config.h"
#include "quantity.h"
#include "redact.h"
#include "registry_auth.h"
#include "retry_policy.h"
#include "url.h"
#include "user_delegation_key.h"
#include "worker_spec.h"

static char *text_of(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

static offloader_config fuzz_config(char *worker_spec)
{
    static char url[] = "http://127.0.0.1:1", name[] = "fuzzacct", job[] = "fuzz-job",
                image[] = "registry.example.com/worker:1", priority[] = "spot",
                vm[] = "Standard_D2s_v3", registry[] = "registry.example.com", user[] = "u",
                password[] = "p", pool_image[] = "a:b:c:d", agent[] = "batch.node.ubuntu 22.04",
                fill[] = "spread";
    offloader_config c;
    memset(&c, 0, sizeof(c));
    c.primary = (azure_account){.label = "primary", .batch_url = url, .batch_name = name};
    c.job_id = job;
    c.completions = 3;
    c.worker_image = image;
    c.priority = priority;
    c.vm_size = vm;
    c.registry_server = registry;
    c.registry_username = user;
    c.registry_password = password;
    c.pool_image = pool_image;
    c.node_agent_sku = agent;
    c.node_fill_type = fill;
    c.task_slots_per_node = 1;
    c.max_nodes = 5;
    c.worker_spec = worker_spec;
    return c;
}

static void fuzz_worker_spec(char *text)
{
    char env_value[] = "BATCH_OFFLOAD_WORKER_ENV_0=forwarded";
    char env_from[] = "BATCH_OFFLOAD_WORKER_ENVFROM_0_KEY=from-envfrom";
    char *environ_list[] = {env_value, env_from, NULL};
    offloader_config config = fuzz_config(text);
    worker_spec spec;
    buffer errors;
    buffer_init(&errors, 0);
    if (worker_spec_read(&spec, text, environ_list, &errors)) {
        job_plan plan;
        if (job_plan_build(&plan, &config, &spec, environ_list, &errors))
            job_plan_free(&plan);
    }
    worker_spec_free(&spec);
    buffer_free(&errors);
}

static void fuzz_docker_config(const char *text)
{
    offloader_config config = fuzz_config(NULL);
    config.registry_server = NULL;
    buffer variable;
    buffer_init(&variable, 0);
    buffer_appendf(&variable, "BATCH_OFFLOAD_PULL_SECRET_0=%s", text);
    char *environ_list[] = {variable.data, NULL};
    registry_credentials found;
    registry_credentials_for(&config, "myregistry.azurecr.io/team/worker:1", environ_list, &found);
    registry_credentials_for(&config, "busybox", environ_list, &found);
    buffer_free(&variable);
}

static void fuzz_error_body(const uint8_t *data, size_t size)
{
    http_exchange x;
    http_exchange_init(&x, "GET", "http://127.0.0.1/");
    buffer_append(&x.response, data, size);
    x.status = 409;
    batch_result r;
    batch_result_read(&x, &r);
    buffer text;
    buffer_init(&text, 0);
    batch_result_describe(&r, &text);
    buffer_free(&text);
    http_exchange_free(&x);
}

/* A token endpoint's answer, successful or not: a token comes back only
 * with a lifetime, and a refusal always says why. */
static void fuzz_token_answer(const uint8_t *data, size_t size)
{
    char error[256] = "";
    int64_t lifetime = 0;
    long status = size > 0 && data[0] % 2 ? 400 : 200;
    char *token = entra_answer_read(status, (const char *)data, size, &lifetime, error,
                                    sizeof(error));
    if (token ? lifetime <= 0 || status != 200 : error[0] == '\0')
        abort();
    free(token);
}

static void fuzz_expansion(const char *text)
{
    env_list env = {0};
    env_list_set(&env, "A", "value-a");
    env_list_set(&env, "B", "$(A)");
    buffer out;
    buffer_init(&out, 0);
    kubelet_expand(text, &env, &out);
    if (!strchr(text, '$') && strcmp(buffer_cstr(&out), text) != 0)
        abort();
    buffer_reset(&out);
    command_line_append_word(&out, text);
    if (out.len == 0)
        abort(); /* even "" is written, as '' */
    buffer_free(&out);
    env_list_free(&env);
}

static void fuzz_url(const char *text, size_t size)
{
    url_parts parts;
    if (url_split(text, &parts))
        url_is_secure_or_loopback(&parts);
    buffer out;
    buffer_init(&out, 0);
    url_decode_into(&out, text, size);
    buffer_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool quiet;
    if (!quiet) {
        log_configure("fuzz", LOG_FORMAT_TEXT, LOG_ERROR + 1);
        quiet = true;
    }
    if (size < 1)
        return 0;
    uint8_t which = data[0] % 9;
    data++;
    size--;
    if (memchr(data, 0, size)) /* environment values and C strings hold no NUL */
        return 0;
    char *text = text_of(data, size);
    double value;
    user_delegation_key key;
    switch (which) {
    case 0:
        fuzz_worker_spec(text);
        break;
    case 1:
        fuzz_docker_config(text);
        break;
    case 2:
        user_delegation_key_parse(text, size, &key);
        break;
    case 3:
        fuzz_error_body(data, size);
        break;
    case 4:
        fuzz_expansion(text);
        break;
    case 5:
        quantity_parse(text, &value);
        break;
    case 6:
        fuzz_url(text, size);
        break;
    case 7:
        retry_after_parse(text, 1795455900);
        break;
    case 8:
        fuzz_token_answer(data, size);
        break;
    }
    free(text);
    redact_forget_secrets(); /* registered secrets have no cap: each input starts without any */
    return 0;
}
