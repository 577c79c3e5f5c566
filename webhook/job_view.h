/* What the rewrite of one Job needs, gathered once by job_mutate() and read
 * by the writers of the offloader's environment (offloader_env.c) and of
 * the pod and the patch (offloader_pod.c). */
#ifndef JOB_VIEW_H
#define JOB_VIEW_H

#include <stdint.h>

#include "blob_prefixes.h"
#include "json_reader.h"
#include "json_writer.h"
#include "offload_annotations.h"
#include "platform_settings.h"

/* The largest patch, and the largest worker spec inside it. */
#define JOB_PATCH_LIMIT (4 * 1024 * 1024)

typedef struct job_view {
    const json_document *doc;
    const char *namespace_name;
    const platform_settings *platform;
    offload_annotations annotations;
    char *job_name;        /* NULL with generateName */
    int spec;
    int template_metadata; /* -1 when absent */
    int pod_spec;
    int worker;            /* the first container */
    /* Members read by more than one part of the rewrite, looked up once (-1: absent). */
    int worker_env, worker_env_from, worker_resources;
    int pull_secrets;      /* the pod spec's imagePullSecrets */
    char *worker_image;
    int64_t completions;
    int64_t gpus;          /* the worker's nvidia.com/gpu; 0: none */
    blob_prefixes prefixes;
} job_view;

/* Copies the JSON value at token into w as it was written. */
static inline void job_view_copy_raw(json_writer *w, const json_document *doc, int token)
{
    const char *text;
    size_t len;
    json_raw(doc, token, &text, &len);
    json_raw_value(w, text, len);
}

#endif
