/* The offloader pod and the JSON Patch that puts it into the Job (docs/DESIGN.md,
 * "The rewritten Job"): one small container with a restricted security
 * context, a podFailurePolicy keyed on the offloader's exit codes, and the
 * Job fields that go with one pod. Patches follow the API server's patch
 * library (evanphx/json-patch): "add" replaces an existing member, "add" under
 * a missing parent fails, so whole maps are added when their parent map is
 * absent; "/" in keys is written "~1". */
#include "offloader_pod.h"

#include <stdio.h>
#include <string.h>

#include "json_fragment.h"
#include "offload_contract.h"
#include "offloader_env.h"

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

/* ---- parts that never change ------------------------------------------ */

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

static void write_container_security_context(json_writer *w)
{
    write_restricted_security_context(w, true);
}

static void write_pod_security_context(json_writer *w)
{
    write_restricted_security_context(w, false);
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
    json_int(w, OFFLOAD_EXIT_WORK_FAILED);
    json_int(w, OFFLOAD_EXIT_BAD_CONFIGURATION);
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

static json_fragment resources = JSON_FRAGMENT(write_offloader_resources);
static json_fragment container_security_context = JSON_FRAGMENT(write_container_security_context);
static json_fragment pod_security_context = JSON_FRAGMENT(write_pod_security_context);
static json_fragment pod_failure_policy = JSON_FRAGMENT(write_pod_failure_policy);

/* ---- the pod ------------------------------------------------------------ */

static void write_offloader_container(json_writer *w, const job_view *v)
{
    json_object_begin(w);
    json_member_string(w, "name", OFFLOADER_CONTAINER_NAME);
    json_member_string(w, "image", v->platform->offloader_image);
    json_member_string(w, "imagePullPolicy", "IfNotPresent");
    json_key(w, "env");
    offloader_env_write(w, v);
    json_key(w, "envFrom");
    offloader_env_from_write(w, v);
    json_key(w, "resources");
    json_fragment_copy(w, &resources);
    json_key(w, "securityContext");
    json_fragment_copy(w, &container_security_context);
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
    json_fragment_copy(w, &pod_security_context);
    if (p->offloader_service_account[0])
        json_member_string(w, "serviceAccountName", p->offloader_service_account);
    /* A token only where something uses it: the Kubernetes API, workload identity. */
    json_member_bool(w, "automountServiceAccountToken", p->api_access || p->workload_identity);
    json_member_bool(w, "enableServiceLinks", false);
    /* Time to terminate the Batch job after SIGTERM. */
    json_member_int(w, "terminationGracePeriodSeconds", 60);
    if (json_length(v->doc, v->pull_secrets) > 0) {
        json_key(w, "imagePullSecrets");
        job_view_copy_raw(w, v->doc, v->pull_secrets);
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
            buffer_append_str(&pointer, "/spec/template/metadata/");
            buffer_append_str(&pointer, map);
            buffer_append_char(&pointer, '/');
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


void offloader_patch_write(json_writer *w, const job_view *v)
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
    json_fragment_copy(w, &pod_failure_policy);
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

