/* Whether and how a Job is offloaded; see job_mutation.h. job_mutate() checks
 * the Job and its annotations and gathers a job_view; offloader_pod.c then
 * writes the patch (and offloader_env.c the offloader's environment in it). */
#include "job_mutation.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "azure_names.h"
#include "dropped_fields.h"
#include "job_policy_check.h"
#include "job_view.h"
#include "json_writer.h"
#include "offload_annotations.h"
#include "offload_contract.h"
#include "offloader_pod.h"
#include "secret_exposure.h"
#include "worker_resources.h"

void job_mutation_init(job_mutation *m)
{
    memset(m, 0, sizeof(*m));
    buffer_init(&m->message, 4096);
    buffer_init(&m->patch, JOB_PATCH_LIMIT);
}

void job_mutation_free(job_mutation *m)
{
    buffer_free(&m->message);
    buffer_free(&m->patch);
    admission_warnings_free(&m->warnings);
}

/* ---- deciding --------------------------------------------------------- */

static void deny(job_mutation *m, int code)
{
    m->outcome = MUTATION_DENIED;
    m->status_code = code;
}

/* The denial of completions over a limit names the limit: the platform's
 * --max-completions, or the hard one above every platform's. */
static void explain_completions(job_mutation *m, const job_view *v, int completions, long limit)
{
    const char *text;
    size_t len;
    json_raw(v->doc, completions, &text, &len);
    buffer_appendf(&m->message, "spec.completions is %.*s: ", (int)(len > 32 ? 32 : len), text);
    int64_t asked;
    if (!json_read_int64(v->doc, completions, 1, INT64_MAX, &asked))
        buffer_appendf(&m->message, "it must be a whole number from 1 to %ld", limit);
    else if (limit < OFFLOAD_MAX_COMPLETIONS)
        buffer_appendf(&m->message,
                       "this cluster offloads Jobs of at most %ld completions (the platform's "
                       "--max-completions)%s",
                       limit,
                       asked > OFFLOAD_MAX_COMPLETIONS
                           ? "; " OFFLOAD_STRINGIFY(OFFLOAD_MAX_COMPLETIONS)
                             " is the hard limit, Kubernetes' own for Indexed Jobs"
                           : "");
    else
        buffer_append_str(&m->message,
                          "no Job of more than " OFFLOAD_STRINGIFY(OFFLOAD_MAX_COMPLETIONS)
                          " completions is offloaded (the hard limit, Kubernetes' own for "
                          "Indexed Jobs)");
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
    long limit = v->platform->max_completions < OFFLOAD_MAX_COMPLETIONS
                     ? v->platform->max_completions
                     : OFFLOAD_MAX_COMPLETIONS;
    if (json_read_int64(v->doc, completions, 1, limit, &v->completions))
        return true;
    explain_completions(m, v, completions, limit);
    return false;
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
    v->pull_secrets = json_object_get(v->doc, v->pod_spec, "imagePullSecrets");
    v->worker_env = json_object_get(v->doc, v->worker, "env");
    v->worker_env_from = json_object_get(v->doc, v->worker, "envFrom");
    v->worker_resources = json_object_get(v->doc, v->worker, "resources");
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

/* A GPU Job runs where the platform put GPUs: the pool the Job names, the
 * platform's GPU pool, or an auto pool of its GPU VM size (offloader_env.c
 * picks); anywhere else its worker would run without them. */
static bool check_gpu_placement(job_mutation *m, const job_view *v)
{
    const platform_settings *p = v->platform;
    if (v->gpus == 0 || v->annotations.pool || p->gpu_pool[0] || p->gpu_vm_size[0])
        return true;
    buffer_appendf(&m->message,
                   "spec.template.spec.containers[0] asks for %lld " OFFLOAD_GPU_RESOURCE
                   ", but this cluster has no GPUs for offloaded Jobs: the platform gives them "
                   "with --gpu-pool or --gpu-vm-size (the chart's offload.gpu), or a Job names "
                   "a GPU pool with " ANNOTATION_PREFIX "pool",
                   (long long)v->gpus);
    return false;
}

void job_mutate(job_mutation *m, const json_document *doc, int job, const char *namespace_name,
                const platform_settings *platform)
{
    job_view v = {.doc = doc, .namespace_name = namespace_name ? namespace_name : "",
                  .platform = platform, .worker = -1, .worker_env = -1,
                  .worker_env_from = -1, .worker_resources = -1, .pull_secrets = -1};
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
    blob_prefixes_init(&v.prefixes);
    if (v.namespace_name[0] == '\0' || json_type_of(doc, v.spec) != JSON_OBJECT ||
        json_type_of(doc, v.pod_spec) != JSON_OBJECT) {
        buffer_append_str(&m->message, "not a namespaced Job with spec.template.spec");
        deny(m, 400);
    } else if (!read_worker(m, &v) || !read_completions(m, &v) ||
               !blob_prefixes_make(&v.prefixes, &v, metadata, &m->warnings, &m->message)) {
        deny(m, 400);
    } else if (!secret_exposure_check(doc, v.worker_env, v.worker_env_from, v.pull_secrets,
                                      platform->deny_secret_env, &m->message, &m->warnings)) {
        deny(m, 403);
    } else if (!worker_resources_read(doc, v.worker_resources, &v.gpus, &m->message,
                                      &m->warnings) ||
               !check_gpu_placement(m, &v)) {
        deny(m, 400);
    } else if (!job_policy_check(doc, v.spec, v.annotations.aggregator_image != NULL,
                                 &m->warnings, &m->message)) {
        deny(m, 400);
    } else {
        dropped_fields_warn(doc, v.pod_spec, &m->warnings);
        json_writer w;
        json_writer_init(&w, &m->patch);
        buffer_reserve(&m->patch, 4096); /* a typical patch at once, not doubled up to */
        offloader_patch_write(&w, &v);
        if (json_writer_finish(&w)) {
            m->outcome = MUTATION_PATCHED;
        } else {
            buffer_reset(&m->patch);
            buffer_append_str(&m->message, "the rewritten Job would be larger than 4 MiB");
            deny(m, 400);
        }
    }
    offload_annotations_free(&v.annotations);
    blob_prefixes_free(&v.prefixes);
    free(v.job_name);
    free(v.worker_image);
}
