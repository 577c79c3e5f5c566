/* The Job -> offloader rewrite; see job_mutation.h.
 *
 * Reading order: job_mutate() checks the Job and its annotations, then
 * write_patch() emits the operations; the pod spec and the offloader's
 * environment are built by the functions just above it. Patches follow the
 * API server's patch library (evanphx/json-patch): "add" replaces an existing
 * member, "add" under a missing parent fails, so whole maps are added when
 * their parent map is absent; "/" in keys is written "~1". */
#include "job_mutation.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "azure_names.h"
#include "dropped_fields.h"
#include "json_writer.h"
#include "offload_annotations.h"

#define PATCH_LIMIT (4 * 1024 * 1024)

/* The offloader reads these keys of the credentials Secret (docs/DESIGN.md), the
 * SECONDARY_ ones for failover to a second region. */
/* Job fields the offloader maps to Batch settings, copied into WORKERSPEC. */
static const char *const carried_job_fields[] = {
    "parallelism", "backoffLimit", "backoffLimitPerIndex", "activeDeadlineSeconds",
    "completionMode",
};

/* Everything the rewrite needs, gathered once by job_mutate(). */
typedef struct job_view {
    const json_document *doc;
    const char *namespace_name;
    const platform_settings *platform;
    offload_annotations annotations;
    char *job_name;    /* NULL with generateName */
    int spec;
    int template_metadata; /* -1 when absent */
    int pod_spec;
    int worker;        /* the first container */
    char *worker_image;
    int64_t completions;
} job_view;

void job_mutation_init(job_mutation *m)
{
    memset(m, 0, sizeof(*m));
    buffer_init(&m->message, 4096);
    buffer_init(&m->patch, PATCH_LIMIT);
}

void job_mutation_free(job_mutation *m)
{
    buffer_free(&m->message);
    buffer_free(&m->patch);
    admission_warnings_free(&m->warnings);
}

/* ---- small writers ---------------------------------------------------- */

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

static void write_raw(json_writer *w, const json_document *doc, int token)
{
    const char *text;
    size_t len;
    json_raw(doc, token, &text, &len);
    json_raw_value(w, text, len);
}

static void write_op(json_writer *w, const char *op, const char *path)
{
    json_object_begin(w);
    json_member_string(w, "op", op);
    json_member_string(w, "path", path);
    if (strcmp(op, "remove") == 0)
        json_object_end(w);
    else
        json_key(w, "value"); /* the caller writes the value and closes */
}

/* ---- the offloader's configuration ------------------------------------ */

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
            write_raw(&w, v->doc, value);
        }
    }
    json_key(&w, "container");
    write_raw(&w, v->doc, v->worker);
    int pull_secrets = json_object_get(v->doc, v->pod_spec, "imagePullSecrets");
    if (json_length(v->doc, pull_secrets) > 0) {
        json_key(&w, "imagePullSecrets");
        write_raw(&w, v->doc, pull_secrets);
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
    int env = json_object_get(v->doc, v->worker, "env");
    json_iterator it = json_iterate(v->doc, env);
    int entry;
    for (int index = 0; json_iterator_next(&it, &entry); index++) {
        int value_from = json_object_get(v->doc, entry, "valueFrom");
        if (json_type_of(v->doc, value_from) != JSON_OBJECT ||
            json_object_get(v->doc, value_from, "resourceFieldRef") >= 0)
            continue;
        char name[64];
        snprintf(name, sizeof(name), "BATCH_OFFLOAD_WORKER_ENV_%d", index);
        json_object_begin(w);
        json_member_string(w, "name", name);
        json_key(w, "valueFrom");
        write_raw(w, v->doc, value_from);
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
    int env_from = json_object_get(v->doc, v->worker, "envFrom");
    json_iterator it = json_iterate(v->doc, env_from);
    int source;
    for (int index = 0; json_iterator_next(&it, &source); index++) {
        char *user_prefix = json_string_dup(v->doc, json_object_get(v->doc, source, "prefix"));
        char prefix[300];
        snprintf(prefix, sizeof(prefix), "BATCH_OFFLOAD_WORKER_ENVFROM_%d_%.255s", index,
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
                write_raw(w, v->doc, key + 1);
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
    int pull_secrets = json_object_get(v->doc, v->pod_spec, "imagePullSecrets");
    json_iterator it = json_iterate(v->doc, pull_secrets);
    int ref;
    for (int index = 0; json_iterator_next(&it, &ref); index++) {
        char *secret = json_string_dup(v->doc, json_object_get(v->doc, ref, "name"));
        if (secret && secret[0]) {
            char name[64];
            snprintf(name, sizeof(name), "BATCH_OFFLOAD_PULL_SECRET_%d", index);
            write_env_secret_ref(w, name, secret, ".dockerconfigjson");
        }
        free(secret);
    }
}

/* The platform's settings for auth and auto pools, only where it set them
 * (the offloader's defaults are documented in its --help). */
static void write_platform_overrides(json_writer *w, const platform_settings *p)
{
    const char *const texts[][2] = {
        {"BATCH_OFFLOAD_AUTH", p->offloader_auth},
        {"BATCH_OFFLOAD_POOL_IMAGE", p->pool_image},
        {"BATCH_OFFLOAD_NODE_AGENT_SKU", p->node_agent_sku},
        {"BATCH_OFFLOAD_NODE_FILL_TYPE", p->node_fill_type},
        {"BATCH_OFFLOAD_AUTOSCALE_FORMULA", p->autoscale_formula},
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        if (texts[i][1] && texts[i][1][0])
            write_env_literal(w, texts[i][0], texts[i][1]);
    const struct {
        const char *name;
        long value;
    } numbers[] = {{"BATCH_OFFLOAD_TASK_SLOTS_PER_NODE", p->task_slots_per_node},
                   {"BATCH_OFFLOAD_MAX_NODES", p->max_nodes}};
    for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
        if (numbers[i].value <= 0)
            continue;
        char text[24];
        snprintf(text, sizeof(text), "%ld", numbers[i].value);
        write_env_literal(w, numbers[i].name, text);
    }
}

/* ---- parts that never change ------------------------------------------ */

/* Most of a patch does not depend on the Job or the platform: the field
 * references, the security contexts, the resources, the failure policy. They
 * are written once, by the same writers, and copied into every patch. */
static void write_pod_failure_policy(json_writer *w);
static void write_restricted_security_context(json_writer *w, bool container);
static void write_offloader_resources(json_writer *w);

/* The Job's UID and name reach the pod through its labels (set by the API
 * server after admission); JOBID is derived from the UID so a restarted
 * offloader finds the same Batch job. */
static const char *const pod_field_env[][2] = {
    {"BATCH_OFFLOAD_JOB_UID", "metadata.labels['batch.kubernetes.io/controller-uid']"},
    {"BATCH_OFFLOAD_JOB_NAME", "metadata.labels['batch.kubernetes.io/job-name']"},
    {"BATCH_OFFLOAD_NAMESPACE", "metadata.namespace"},
};
#define POD_FIELD_ENV_COUNT (sizeof(pod_field_env) / sizeof(pod_field_env[0]))

static struct {
    buffer pod_field_env[POD_FIELD_ENV_COUNT];
    buffer job_id_env;
    buffer pod_failure_policy;
    buffer container_security_context;
    buffer pod_security_context;
    buffer resources;
} constant;
static pthread_once_t constant_once = PTHREAD_ONCE_INIT;

/* A fragment is one JSON value; its writer starts at depth 0. */
static json_writer fragment_writer(buffer *out)
{
    json_writer w;
    buffer_init(out, 0);
    json_writer_init(&w, out);
    return w;
}

static void write_constant_parts(void)
{
    json_writer w;
    for (size_t i = 0; i < POD_FIELD_ENV_COUNT; i++) {
        w = fragment_writer(&constant.pod_field_env[i]);
        write_env_field_ref(&w, pod_field_env[i][0], pod_field_env[i][1]);
    }
    w = fragment_writer(&constant.job_id_env);
    write_env_expanded(&w, "JOBID", "k8s-$(BATCH_OFFLOAD_JOB_UID)");
    w = fragment_writer(&constant.pod_failure_policy);
    write_pod_failure_policy(&w);
    w = fragment_writer(&constant.container_security_context);
    write_restricted_security_context(&w, true);
    w = fragment_writer(&constant.pod_security_context);
    write_restricted_security_context(&w, false);
    w = fragment_writer(&constant.resources);
    write_offloader_resources(&w);
}

static void write_constant(json_writer *w, const buffer *fragment)
{
    if (!buffer_ok(fragment) || fragment->len == 0) { /* out of memory when written */
        w->out->failed = true;
        return;
    }
    json_raw_value(w, fragment->data, fragment->len);
}

static void write_offloader_env(json_writer *w, const job_view *v)
{
    const platform_settings *p = v->platform;
    const offload_annotations *a = &v->annotations;
    char number[32];

    json_array_begin(w);
    for (size_t i = 0; i < POD_FIELD_ENV_COUNT; i++)
        write_constant(w, &constant.pod_field_env[i]);
    write_constant(w, &constant.job_id_env);

    const char *pool = a->pool ? a->pool : p->default_pool;
    if (pool[0])
        write_env_literal(w, "POOLID", pool);
    write_env_literal(w, "WORKERIMAGENAME", v->worker_image);
    snprintf(number, sizeof(number), "%lld", (long long)v->completions);
    write_env_literal(w, "COMPLETIONS", number);
    if (a->aggregator_image)
        write_env_literal(w, "AGGREGATORIMAGENAME", a->aggregator_image);
    if (a->aggregator_args)
        write_env_literal(w, "AGGREGATORARGS", a->aggregator_args);

    if (a->blob_prefix) {
        write_env_literal(w, "BLOBPREFIX", a->blob_prefix);
    } else if (v->job_name) {
        buffer prefix;
        buffer_init(&prefix, 1024);
        buffer_appendf(&prefix, "%s/%s", v->namespace_name, v->job_name);
        write_env_literal(w, "BLOBPREFIX", buffer_cstr(&prefix));
        buffer_free(&prefix);
    } else { /* generateName: the name exists only once the Job is stored */
        buffer prefix;
        buffer_init(&prefix, 1024);
        for (const char *c = v->namespace_name; *c; c++) /* a DNS label: no '$' to escape */
            buffer_append_char(&prefix, *c);
        buffer_append_str(&prefix, "/$(BATCH_OFFLOAD_JOB_NAME)");
        write_env_expanded(w, "BLOBPREFIX", buffer_cstr(&prefix));
        buffer_free(&prefix);
    }
    write_env_literal(w, "CONTAINER",
                      a->storage_container ? a->storage_container : p->default_storage_container);
    write_env_literal(w, "PRIORITY", a->priority ? a->priority : "spot");
    const char *vm_size = a->vm_size ? a->vm_size : p->default_vm_size;
    if (vm_size[0])
        write_env_literal(w, "VMSIZE", vm_size);
    write_env_literal(w, "KEEPBATCHJOB", a->keep_batch_job ? a->keep_batch_job : "false");
    write_platform_overrides(w, p);

    buffer spec;
    buffer_init(&spec, PATCH_LIMIT);
    build_worker_spec(v, &spec);
    if (!buffer_ok(&spec))
        w->out->failed = true;
    write_env_literal(w, "WORKERSPEC", buffer_cstr(&spec));
    buffer_free(&spec);

    write_worker_value_from(w, v);
    write_pull_secret_refs(w, v);
    json_array_end(w);
}

/* ---- the pod ---------------------------------------------------------- */

static void write_restricted_security_context(json_writer *w, bool container)
{
    json_object_begin(w);
    if (container) {
        json_member_bool(w, "allowPrivilegeEscalation", false);
        json_member_bool(w, "readOnlyRootFilesystem", true);
        json_key(w, "capabilities");
        json_object_begin(w);
        json_key(w, "drop");
        json_array_begin(w);
        json_string(w, "ALL");
        json_array_end(w);
        json_object_end(w);
    }
    json_member_bool(w, "runAsNonRoot", true);
    json_member_int(w, "runAsUser", OFFLOADER_USER_ID);
    json_member_int(w, "runAsGroup", OFFLOADER_USER_ID);
    json_key(w, "seccompProfile");
    json_object_begin(w);
    json_member_string(w, "type", "RuntimeDefault");
    json_object_end(w);
    json_object_end(w);
}

static void write_offloader_resources(json_writer *w)
{
    json_object_begin(w);
    json_key(w, "requests");
    json_object_begin(w);
    json_member_string(w, "cpu", "10m");
    json_member_string(w, "memory", "16Mi");
    json_object_end(w);
    json_key(w, "limits");
    json_object_begin(w);
    json_member_string(w, "memory", "128Mi");
    json_object_end(w);
    json_object_end(w);
}

static void write_offloader_container(json_writer *w, const job_view *v)
{
    json_object_begin(w);
    json_member_string(w, "name", OFFLOADER_CONTAINER_NAME);
    json_member_string(w, "image", v->platform->offloader_image);
    json_member_string(w, "imagePullPolicy", "IfNotPresent");
    json_key(w, "env");
    write_offloader_env(w, v);
    json_key(w, "envFrom");
    json_array_begin(w);
    write_credentials_ref(w, v->platform);
    write_worker_env_from(w, v);
    json_array_end(w);
    json_key(w, "resources");
    write_constant(w, &constant.resources);
    json_key(w, "securityContext");
    write_constant(w, &constant.container_security_context);
    /* kubectl describe shows the last log lines when the offloader fails */
    json_member_string(w, "terminationMessagePolicy", "FallbackToLogsOnError");
    json_object_end(w);
}

static void write_pod_spec(json_writer *w, const job_view *v)
{
    const platform_settings *p = v->platform;
    json_object_begin(w);
    json_member_string(w, "restartPolicy", "Never");
    json_key(w, "containers");
    json_array_begin(w);
    write_offloader_container(w, v);
    json_array_end(w);
    json_key(w, "securityContext");
    write_constant(w, &constant.pod_security_context);
    if (p->offloader_service_account[0])
        json_member_string(w, "serviceAccountName", p->offloader_service_account);
    /* Only workload identity needs the projected token. */
    json_member_bool(w, "automountServiceAccountToken", p->workload_identity);
    json_member_bool(w, "enableServiceLinks", false);
    /* Time to terminate the Batch job after SIGTERM. */
    json_member_int(w, "terminationGracePeriodSeconds", 60);
    int pull_secrets = json_object_get(v->doc, v->pod_spec, "imagePullSecrets");
    if (json_length(v->doc, pull_secrets) > 0) {
        json_key(w, "imagePullSecrets");
        write_raw(w, v->doc, pull_secrets);
    }
    json_object_end(w);
}

/* A member name as a JSON Pointer token (RFC 6901): "~" is "~0", "/" is "~1". */
static void append_json_pointer_token(buffer *out, const char *name)
{
    for (const char *c = name; *c; c++) {
        if (*c == '~')
            buffer_append_str(out, "~0");
        else if (*c == '/')
            buffer_append_str(out, "~1");
        else
            buffer_append_char(out, *c);
    }
}

/* Sets entries of spec.template.metadata.<map> whether or not the map (or
 * the metadata) exists. */
static void write_template_map_entries(json_writer *w, const job_view *v, const char *map,
                                       const char *const *keys, const char *const *values,
                                       size_t count)
{
    int existing = json_object_get(v->doc, v->template_metadata, map);
    char path[256];
    if (json_type_of(v->doc, existing) == JSON_OBJECT) {
        for (size_t i = 0; i < count; i++) {
            buffer pointer;
            buffer_init(&pointer, 512);
            buffer_appendf(&pointer, "/spec/template/metadata/%s/", map);
            append_json_pointer_token(&pointer, keys[i]);
            write_op(w, "add", buffer_cstr(&pointer));
            buffer_free(&pointer);
            json_string(w, values[i]);
            json_object_end(w);
        }
        return;
    }
    bool have_metadata = json_type_of(v->doc, v->template_metadata) == JSON_OBJECT;
    snprintf(path, sizeof(path), have_metadata ? "/spec/template/metadata/%s"
                                               : "/spec/template/metadata", map);
    write_op(w, "add", path);
    if (!have_metadata) {
        json_object_begin(w);
        json_key(w, map);
    }
    json_object_begin(w);
    for (size_t i = 0; i < count; i++)
        json_member_string(w, keys[i], values[i]);
    json_object_end(w);
    if (!have_metadata)
        json_object_end(w);
    json_object_end(w);
}

static void write_pod_failure_policy(json_writer *w)
{
    json_object_begin(w);
    json_key(w, "rules");
    json_array_begin(w);
    /* Finished or misconfigured work must never be resubmitted. */
    json_object_begin(w);
    json_member_string(w, "action", "FailJob");
    json_key(w, "onExitCodes");
    json_object_begin(w);
    json_member_string(w, "containerName", OFFLOADER_CONTAINER_NAME);
    json_member_string(w, "operator", "In");
    json_key(w, "values");
    json_array_begin(w);
    json_int(w, OFFLOADER_EXIT_WORK_FAILED);
    json_int(w, OFFLOADER_EXIT_BAD_CONFIGURATION);
    json_array_end(w);
    json_object_end(w);
    json_object_end(w);
    /* A drained or preempted node is not the work's fault. */
    json_object_begin(w);
    json_member_string(w, "action", "Ignore");
    json_key(w, "onPodConditions");
    json_array_begin(w);
    json_object_begin(w);
    json_member_string(w, "type", "DisruptionTarget");
    json_member_string(w, "status", "True");
    json_object_end(w);
    json_array_end(w);
    json_object_end(w);
    json_array_end(w);
    json_object_end(w);
}

static void write_patch(json_writer *w, const job_view *v)
{
    const json_document *doc = v->doc;
    json_array_begin(w);

    write_op(w, "add", "/spec/completions");
    json_int(w, 1);
    json_object_end(w);
    write_op(w, "add", "/spec/parallelism");
    json_int(w, 1);
    json_object_end(w);
    /* Indexed-only fields go with Indexed mode (the API server checks it). */
    write_op(w, "add", "/spec/completionMode");
    json_string(w, "NonIndexed");
    json_object_end(w);
    static const char *const indexed_only[] = {"backoffLimitPerIndex", "maxFailedIndexes",
                                               "successPolicy"};
    for (size_t i = 0; i < sizeof(indexed_only) / sizeof(indexed_only[0]); i++) {
        if (json_object_get(doc, v->spec, indexed_only[i]) >= 0) {
            char path[64];
            snprintf(path, sizeof(path), "/spec/%s", indexed_only[i]);
            write_op(w, "remove", path);
        }
    }
    write_op(w, "add", "/spec/backoffLimit");
    json_int(w, v->platform->offloader_backoff_limit);
    json_object_end(w);
    /* With a podFailurePolicy the API server accepts only "Failed". */
    write_op(w, "add", "/spec/podReplacementPolicy");
    json_string(w, "Failed");
    json_object_end(w);
    write_op(w, "add", "/spec/podFailurePolicy");
    write_constant(w, &constant.pod_failure_policy);
    json_object_end(w);

    static const char *const annotation_keys[] = {OFFLOADER_MARKER};
    static const char *const annotation_values[] = {BATCH_OFFLOAD_VERSION};
    write_template_map_entries(w, v, "annotations", annotation_keys, annotation_values, 1);
    if (v->platform->workload_identity) {
        static const char *const label_keys[] = {"azure.workload.identity/use"};
        static const char *const label_values[] = {"true"};
        write_template_map_entries(w, v, "labels", label_keys, label_values, 1);
    }

    write_op(w, "add", "/spec/template/spec");
    write_pod_spec(w, v);
    json_object_end(w);
    json_array_end(w);
}

/* ---- deciding --------------------------------------------------------- */

static void deny(job_mutation *m, int code)
{
    m->outcome = MUTATION_DENIED;
    m->status_code = code;
}

/* Reads spec.completions; false (with the message) when out of range. */
static bool read_completions(job_mutation *m, job_view *v)
{
    int completions = json_object_get(v->doc, v->spec, "completions");
    if (completions < 0 || json_type_of(v->doc, completions) == JSON_NULL) {
        int64_t parallelism = 1;
        json_read_int64(v->doc, json_object_get(v->doc, v->spec, "parallelism"), 0, INT32_MAX,
                        &parallelism);
        if (parallelism > 1)
            admission_warnings_add(&m->warnings,
                                   "spec.completions is not set (a work-queue Job): Azure Batch "
                                   "runs one worker task; set spec.completions to run more");
        v->completions = 1;
        return true;
    }
    if (!json_read_int64(v->doc, completions, 1, v->platform->max_completions,
                         &v->completions)) {
        const char *text;
        size_t len;
        json_raw(v->doc, completions, &text, &len);
        buffer_appendf(&m->message,
                       "spec.completions is %.*s: allowed is 1 to %ld, the maximum this "
                       "cluster allows for offloaded Jobs",
                       (int)(len > 32 ? 32 : len), text, v->platform->max_completions);
        return false;
    }
    return true;
}

/* Finds the worker and checks its image; false (with the message) if unusable. */
static bool read_worker(job_mutation *m, job_view *v)
{
    int containers = json_object_get(v->doc, v->pod_spec, "containers");
    v->worker = json_length(v->doc, containers) > 0 ? containers + 1 : -1;
    if (json_type_of(v->doc, v->worker) != JSON_OBJECT) {
        buffer_append_str(&m->message, "spec.template.spec.containers must hold the worker "
                                       "container");
        return false;
    }
    int image = json_object_get(v->doc, v->worker, "image");
    v->worker_image = json_string_dup(v->doc, image);
    if (!v->worker_image || !image_reference_is_valid(v->worker_image)) {
        buffer_append_str(&m->message, "spec.template.spec.containers[0].image ");
        if (v->worker_image)
            append_quoted_value(&m->message, v->worker_image);
        else
            buffer_append_str(&m->message, "is missing and");
        buffer_append_str(&m->message, " is not a container image reference Azure Batch can "
                                       "pull, such as \"registry.example.com/team/worker:1.0\"");
        return false;
    }
    return true;
}

void job_mutate(job_mutation *m, const json_document *doc, int job, const char *namespace_name,
                const platform_settings *platform)
{
    job_view v = {.doc = doc, .namespace_name = namespace_name ? namespace_name : "",
                  .platform = platform, .worker = -1};
    int metadata = json_object_get(doc, job, "metadata");
    int annotations = json_object_get(doc, metadata, "annotations");
    m->outcome = MUTATION_UNCHANGED;
    if (!offload_annotations_requested(doc, annotations)) {
        m->reason = "not opted in";
        return;
    }
    v.spec = json_object_get(doc, job, "spec");
    int template = json_object_get(doc, v.spec, "template");
    v.template_metadata = json_object_get(doc, template, "metadata");
    int template_annotations = json_object_get(doc, v.template_metadata, "annotations");
    if (json_object_get(doc, template_annotations, OFFLOADER_MARKER) >= 0) {
        m->reason = "already offloaded";
        return;
    }
    if (platform->allowed_namespaces[0] &&
        !list_contains(platform->allowed_namespaces, v.namespace_name)) {
        buffer_appendf(&m->message,
                       "namespace \"%.63s\" may not offload Jobs to Azure Batch: the namespaces "
                       "allowed are %s",
                       v.namespace_name, platform->allowed_namespaces);
        deny(m, 403);
        return;
    }
    if (!offload_annotations_read(&v.annotations, doc, annotations, platform, &m->message)) {
        deny(m, 400);
        return;
    }
    v.pod_spec = json_object_get(doc, template, "spec");
    v.job_name = json_string_dup(doc, json_object_get(doc, metadata, "name"));
    if (v.namespace_name[0] == '\0' || json_type_of(doc, v.spec) != JSON_OBJECT ||
        json_type_of(doc, v.pod_spec) != JSON_OBJECT) {
        buffer_append_str(&m->message, "not a namespaced Job with spec.template.spec");
        deny(m, 400);
    } else if (!read_worker(m, &v) || !read_completions(m, &v)) {
        deny(m, 400);
    } else {
        dropped_fields_warn(doc, v.spec, v.pod_spec, &m->warnings);
        json_writer w;
        json_writer_init(&w, &m->patch);
        buffer_reserve(&m->patch, 4096); /* a typical patch at once, not doubled up to */
        pthread_once(&constant_once, write_constant_parts);
        write_patch(&w, &v);
        if (json_writer_finish(&w)) {
            m->outcome = MUTATION_PATCHED;
        } else {
            buffer_reset(&m->patch);
            buffer_append_str(&m->message, "the rewritten Job would be larger than 4 MiB");
            deny(m, 400);
        }
    }
    offload_annotations_free(&v.annotations);
    free(v.job_name);
    free(v.worker_image);
}
