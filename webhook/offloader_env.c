/* The offloader's environment, as the webhook writes it into the pod: the
 * contract of common/offload_contract.h, in the order the kubelet resolves
 * it (envFrom first, then env entries, each "$(NAME)" against what comes
 * before it). */
#include "offloader_env.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_fragment.h"
#include "offload_contract.h"

/* Job fields the offloader maps to Batch settings, copied into WORKERSPEC. */
static const char *const carried_job_fields[] = {
    "parallelism", "backoffLimit", "backoffLimitPerIndex", "activeDeadlineSeconds",
    "completionMode", "maxFailedIndexes", "successPolicy", "podFailurePolicy",
};

/* ---- entries ------------------------------------------------------------ */

/* An env value the kubelet will not expand: "$" becomes "$$" (Kubernetes
 * reads "$$" as a literal "$" and would otherwise expand "$(NAME)"). */
static void write_literal_env_value(json_writer *w, const char *value)
{
    json_string_begin(w);
    for (const char *dollar; (dollar = strchr(value, '$')); value = dollar + 1) {
        json_string_part(w, value, (size_t)(dollar - value));
        json_string_part(w, "$$", 2);
    }
    json_string_part(w, value, strlen(value));
    json_string_end(w);
}

static void write_env_literal(json_writer *w, const char *name, const char *value)
{
    json_object_begin(w);
    json_member_string(w, "name", name);
    json_key(w, "value");
    write_literal_env_value(w, value);
    json_object_end(w);
}

/* An env value built from earlier variables, "$(NAME)" expanded on purpose. */
static void write_env_expanded(json_writer *w, const char *name, const char *value)
{
    json_object_begin(w);
    json_member_string(w, "name", name);
    json_member_string(w, "value", value);
    json_object_end(w);
}

static void write_env_field_ref(json_writer *w, const char *name, const char *field_path)
{
    json_object_begin(w);
    json_member_string(w, "name", name);
    json_key(w, "valueFrom");
    json_object_begin(w);
    json_key(w, "fieldRef");
    json_object_begin(w);
    json_member_string(w, "fieldPath", field_path);
    json_object_end(w);
    json_object_end(w);
    json_object_end(w);
}

static void write_env_secret_ref(json_writer *w, const char *name, const char *secret,
                                 const char *key)
{
    json_object_begin(w);
    json_member_string(w, "name", name);
    json_key(w, "valueFrom");
    json_object_begin(w);
    json_key(w, "secretKeyRef");
    json_object_begin(w);
    json_member_string(w, "name", secret);
    json_member_string(w, "key", key);
    json_member_bool(w, "optional", true);
    json_object_end(w);
    json_object_end(w);
    json_object_end(w);
}

/* ---- entries that never change ------------------------------------------ */

/* The Job's UID and name reach the pod through its labels (set by the API
 * server after admission); JOBID is derived from the UID so a restarted
 * offloader finds the same Batch job. */
static void write_job_uid_env(json_writer *w)
{
    write_env_field_ref(w, OFFLOAD_ENV_JOB_UID,
                        "metadata.labels['batch.kubernetes.io/controller-uid']");
}

static void write_job_name_env(json_writer *w)
{
    write_env_field_ref(w, OFFLOAD_ENV_JOB_NAME, "metadata.labels['batch.kubernetes.io/job-name']");
}

static void write_namespace_env(json_writer *w)
{
    write_env_field_ref(w, OFFLOAD_ENV_NAMESPACE, "metadata.namespace");
}

static void write_pod_name_env(json_writer *w)
{
    write_env_field_ref(w, OFFLOAD_ENV_POD_NAME, "metadata.name");
}

static void write_pod_uid_env(json_writer *w)
{
    write_env_field_ref(w, OFFLOAD_ENV_POD_UID, "metadata.uid");
}

static void write_job_id_env(json_writer *w)
{
    write_env_expanded(w, OFFLOAD_ENV_JOB_ID, OFFLOAD_JOB_ID_FROM_UID);
}

static json_fragment job_uid_env = JSON_FRAGMENT(write_job_uid_env);
static json_fragment job_name_env = JSON_FRAGMENT(write_job_name_env);
static json_fragment namespace_env = JSON_FRAGMENT(write_namespace_env);
static json_fragment job_id_env = JSON_FRAGMENT(write_job_id_env);
static json_fragment pod_name_env = JSON_FRAGMENT(write_pod_name_env);
static json_fragment pod_uid_env = JSON_FRAGMENT(write_pod_uid_env);

/* ---- the worker and the platform ----------------------------------------- */

/* WORKERSPEC: the worker container and the Job fields the offloader maps,
 * verbatim from the original Job, as compact JSON. */
static void build_worker_spec(const job_view *v, buffer *out)
{
    json_writer w;
    json_writer_init(&w, out);
    json_object_begin(&w);
    json_member_int(&w, "completions", v->completions);
    for (size_t i = 0; i < sizeof(carried_job_fields) / sizeof(carried_job_fields[0]); i++) {
        int value = json_object_get(v->doc, v->spec, carried_job_fields[i]);
        if (value >= 0 && json_type_of(v->doc, value) != JSON_NULL) {
            json_key(&w, carried_job_fields[i]);
            job_view_copy_raw(&w, v->doc, value);
        }
    }
    json_key(&w, "container");
    job_view_copy_raw(&w, v->doc, v->worker);
    if (json_length(v->doc, v->pull_secrets) > 0) {
        json_key(&w, "imagePullSecrets");
        job_view_copy_raw(&w, v->doc, v->pull_secrets);
    }
    json_object_end(&w);
}

/* Worker env entries with valueFrom: resolved by the kubelet in the
 * offloader pod under BATCH_OFFLOAD_WORKER_ENV_<index>, the index of the
 * entry in the worker's env list (the offloader maps it back by index).
 * resourceFieldRef names the worker container, which the offloader pod does
 * not have; the offloader resolves it from the worker spec instead. */
static void write_worker_value_from(json_writer *w, const job_view *v)
{
    json_iterator it = json_iterate(v->doc, v->worker_env);
    int entry;
    for (int index = 0; json_iterator_next(&it, &entry); index++) {
        int value_from = json_object_get(v->doc, entry, "valueFrom");
        if (json_type_of(v->doc, value_from) != JSON_OBJECT ||
            json_object_get(v->doc, value_from, "resourceFieldRef") >= 0)
            continue;
        char name[64];
        snprintf(name, sizeof(name), OFFLOAD_ENV_WORKER_ENV_PREFIX "%d", index);
        json_object_begin(w);
        json_member_string(w, "name", name);
        json_key(w, "valueFrom");
        job_view_copy_raw(w, v->doc, value_from);
        json_object_end(w);
    }
}

/* The credentials (BATCHNAME, BATCHPASSWORD, STORAGEKEY, REGISTRY*, their
 * SECONDARY_ twins, ...) by reference to the platform's Secret, never as
 * values. Optional, so a missing Secret ends in the offloader's clear
 * "variable not set" error rather than a pod stuck in CreateContainerConfigError.
 * It comes first: the worker's own sources are prefixed and cannot shadow it,
 * and env entries (the offloader's settings) win over all of envFrom. */
static void write_credentials_ref(json_writer *w, const platform_settings *p)
{
    if (!p->credentials_secret || !p->credentials_secret[0])
        return;
    json_object_begin(w);
    json_key(w, "secretRef");
    json_object_begin(w);
    json_member_string(w, "name", p->credentials_secret);
    json_member_bool(w, "optional", true);
    json_object_end(w);
    json_object_end(w);
}

/* Worker envFrom sources, each behind its own prefix so the offloader knows
 * which variables are the worker's: BATCH_OFFLOAD_WORKER_ENVFROM_<index>_. */
static void write_worker_env_from(json_writer *w, const job_view *v)
{
    json_iterator it = json_iterate(v->doc, v->worker_env_from);
    int source;
    for (int index = 0; json_iterator_next(&it, &source); index++) {
        char *user_prefix = json_string_dup(v->doc, json_object_get(v->doc, source, "prefix"));
        char prefix[300];
        snprintf(prefix, sizeof(prefix), OFFLOAD_ENV_WORKER_ENV_FROM_PREFIX "%d_%.255s", index,
                 user_prefix ? user_prefix : "");
        free(user_prefix);
        json_object_begin(w);
        json_member_string(w, "prefix", prefix);
        json_iterator members = json_iterate(v->doc, source);
        int key;
        while (json_iterator_next(&members, &key)) {
            char *member = json_string_dup(v->doc, key);
            if (member && strcmp(member, "prefix") != 0) {
                json_key(w, member);
                job_view_copy_raw(w, v->doc, key + 1);
            }
            free(member);
        }
        json_object_end(w);
    }
}

/* Registry credentials for the worker image come from the Job's
 * imagePullSecrets, read by the offloader pod, never copied. */
static void write_pull_secret_refs(json_writer *w, const job_view *v)
{
    json_iterator it = json_iterate(v->doc, v->pull_secrets);
    int ref;
    for (int index = 0; json_iterator_next(&it, &ref); index++) {
        char *secret = json_string_dup(v->doc, json_object_get(v->doc, ref, "name"));
        if (secret && secret[0]) {
            char name[64];
            snprintf(name, sizeof(name), OFFLOAD_ENV_PULL_SECRET_PREFIX "%d", index);
            write_env_secret_ref(w, name, secret, ".dockerconfigjson");
        }
        free(secret);
    }
}

/* The platform's settings for auth and auto pools, only where it set them
 * (the offloader's defaults are documented in its --help). A GPU Job's auto
 * pool has the GPU image and one task per node: Batch gives a container
 * task every GPU of its node, so tasks sharing a node would share them. */
static void write_platform_overrides(json_writer *w, const platform_settings *p, bool gpus)
{
    const char *const texts[][2] = {
        {OFFLOAD_ENV_AUTH, p->offloader_auth},
        {OFFLOAD_ENV_POOL_IMAGE, gpus ? p->gpu_pool_image : p->pool_image},
        {OFFLOAD_ENV_NODE_AGENT_SKU, gpus ? p->gpu_node_agent_sku : p->node_agent_sku},
        {OFFLOAD_ENV_NODE_FILL_TYPE, gpus ? "" : p->node_fill_type},
        {OFFLOAD_ENV_AUTOSCALE_FORMULA, p->autoscale_formula},
        {OFFLOAD_ENV_SPOT_FALLBACK, p->spot_fallback},
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        if (texts[i][1] && texts[i][1][0])
            write_env_literal(w, texts[i][0], texts[i][1]);
    const struct {
        const char *name;
        long value;
    } numbers[] = {{OFFLOAD_ENV_TASK_SLOTS_PER_NODE, gpus ? 0 : p->task_slots_per_node},
                   {OFFLOAD_ENV_MAX_NODES, p->max_nodes},
                   {OFFLOAD_ENV_SPOT_FALLBACK_SECONDS, p->spot_fallback_seconds}};
    for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
        if (numbers[i].value <= 0)
            continue;
        char text[24];
        snprintf(text, sizeof(text), "%ld", numbers[i].value);
        write_env_literal(w, numbers[i].name, text);
    }
}

/* The offloader container's env array. */
void offloader_env_write(json_writer *w, const job_view *v)
{
    const platform_settings *p = v->platform;
    const offload_annotations *a = &v->annotations;
    char number[32];

    json_array_begin(w);
    json_fragment_copy(w, &job_uid_env);
    json_fragment_copy(w, &job_name_env);
    json_fragment_copy(w, &namespace_env);
    json_fragment_copy(w, &job_id_env);
    if (p->api_access) {
        json_fragment_copy(w, &pod_name_env);
        json_fragment_copy(w, &pod_uid_env);
    }

    /* A GPU Job's defaults are the platform's GPU ones (job_mutate checked there are some). */
    const char *pool = a->pool ? a->pool : v->gpus ? p->gpu_pool : p->default_pool;
    if (pool[0])
        write_env_literal(w, OFFLOAD_ENV_POOL_ID, pool);
    write_env_literal(w, OFFLOAD_ENV_WORKER_IMAGE, v->worker_image);
    snprintf(number, sizeof(number), "%lld", (long long)v->completions);
    write_env_literal(w, OFFLOAD_ENV_COMPLETIONS, number);
    if (a->aggregator_image)
        write_env_literal(w, OFFLOAD_ENV_AGGREGATOR_IMAGE, a->aggregator_image);
    if (a->aggregator_args)
        write_env_literal(w, OFFLOAD_ENV_AGGREGATOR_ARGS, a->aggregator_args);

    const blob_prefixes *prefixes = &v->prefixes;
    if (prefixes->outputs_expanded)
        write_env_expanded(w, OFFLOAD_ENV_BLOB_PREFIX, buffer_cstr(&prefixes->outputs));
    else
        write_env_literal(w, OFFLOAD_ENV_BLOB_PREFIX, buffer_cstr(&prefixes->outputs));
    if (prefixes->inputs.len)
        write_env_literal(w, OFFLOAD_ENV_INPUT_PREFIX, buffer_cstr(&prefixes->inputs));
    if (a->inputs) /* unset: the offloader's default, as for a Job made before it existed */
        write_env_literal(w, OFFLOAD_ENV_INPUTS, a->inputs);
    write_env_literal(w, OFFLOAD_ENV_CONTAINER,
                      a->storage_container ? a->storage_container : p->default_storage_container);
    write_env_literal(w, OFFLOAD_ENV_PRIORITY,
                      a->priority ? a->priority : OFFLOAD_DEFAULT_PRIORITY);
    const char *vm_size = a->vm_size ? a->vm_size : v->gpus ? p->gpu_vm_size : p->default_vm_size;
    if (vm_size[0])
        write_env_literal(w, OFFLOAD_ENV_VM_SIZE, vm_size);
    write_env_literal(w, OFFLOAD_ENV_KEEP_BATCH_JOB,
                      a->keep_batch_job ? a->keep_batch_job : OFFLOAD_DEFAULT_KEEP_BATCH_JOB);
    write_platform_overrides(w, p, v->gpus > 0);

    buffer spec;
    buffer_init(&spec, JOB_PATCH_LIMIT);
    build_worker_spec(v, &spec);
    if (!buffer_ok(&spec))
        w->out->failed = true;
    write_env_literal(w, OFFLOAD_ENV_WORKER_SPEC, buffer_cstr(&spec));
    buffer_free(&spec);

    write_worker_value_from(w, v);
    write_pull_secret_refs(w, v);
    json_array_end(w);
}

void offloader_env_from_write(json_writer *w, const job_view *v)
{
    json_array_begin(w);
    write_credentials_ref(w, v->platform);
    write_worker_env_from(w, v);
    json_array_end(w);
}
