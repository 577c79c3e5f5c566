/* The worker's resources; see worker_resources.h.
 *
 * The offloader carries cpu and memory limits (docker's --cpus and --memory)
 * and the GPU count (a GPU pool, offload_contract.h). cpu and memory
 * requests have nothing to map to on Batch, where a node has what its VM
 * size has, and promise the worker nothing it could miss there, so they
 * pass without a warning as well. Anything else (ephemeral-storage,
 * hugepages-*, other devices) is named in a warning. */
#include "worker_resources.h"

#include <stdlib.h>
#include <string.h>

#include "offload_contract.h"

#define RESOURCES "spec.template.spec.containers[0].resources"
#define GPU_LIMIT RESOURCES ".limits." OFFLOAD_GPU_RESOURCE
#define GPU_REQUEST RESOURCES ".requests." OFFLOAD_GPU_RESOURCE

static bool is_carried(const json_document *doc, int key)
{
    return json_string_equals(doc, key, "cpu") || json_string_equals(doc, key, "memory") ||
           json_string_equals(doc, key, OFFLOAD_GPU_RESOURCE);
}

static void warn_not_carried(const json_document *doc, int list, const char *section,
                             admission_warnings *warnings)
{
    if (json_type_of(doc, list) != JSON_OBJECT) /* a map or nothing; WORKERSPEC's check names it */
        return;
    json_iterator it = json_iterate(doc, list);
    int key;
    while (json_iterator_next(&it, &key)) {
        if (is_carried(doc, key))
            continue;
        char *name = json_string_dup(doc, key);
        admission_warnings_add(warnings,
                               RESOURCES ".%s.%.63s is not carried to Azure Batch: a task gets "
                               "cpu, memory and " OFFLOAD_GPU_RESOURCE " from its container, the "
                               "rest is what its node's VM size has",
                               section, name ? name : "");
        free(name);
    }
}

/* A count as the API server writes an integer quantity ("2"), or -1. */
static int64_t gpu_count(const json_document *doc, int value)
{
    char *text = json_string_dup(doc, value);
    int64_t n = -1;
    if (text && text[0] && strlen(text) <= 3 && strspn(text, "0123456789") == strlen(text))
        n = strtol(text, NULL, 10);
    free(text);
    return n <= OFFLOAD_MAX_GPUS ? n : -1;
}

static void append_value(buffer *out, const json_document *doc, int value)
{
    const char *text;
    size_t len;
    json_raw(doc, value, &text, &len);
    buffer_appendf(out, "%.*s", (int)(len > 32 ? 32 : len), text);
}

/* Checked as the API server checks a pod's GPUs, since it never sees the
 * worker container once the Job is rewritten: from limits, a request only
 * beside an equal limit. */
static bool read_gpus(const json_document *doc, int limits, int requests, int64_t *gpus,
                      buffer *message)
{
    int limit = json_object_get(doc, limits, OFFLOAD_GPU_RESOURCE);
    int request = json_object_get(doc, requests, OFFLOAD_GPU_RESOURCE);
    if (limit < 0 && request < 0)
        return true;
    if (limit < 0) {
        buffer_append_str(message, GPU_REQUEST " is set without " GPU_LIMIT ": Kubernetes "
                                   "takes GPUs from limits; set the limit (and a request, if "
                                   "any, to the same number)");
        return false;
    }
    int64_t n = gpu_count(doc, limit);
    if (n < 0) {
        buffer_append_str(message, GPU_LIMIT " is ");
        append_value(message, doc, limit);
        buffer_append_str(message, ": a GPU count is a whole number from 0 to " OFFLOAD_STRINGIFY(
                                       OFFLOAD_MAX_GPUS));
        return false;
    }
    if (request >= 0 && gpu_count(doc, request) != n) {
        buffer_append_str(message, GPU_REQUEST " is ");
        append_value(message, doc, request);
        buffer_append_str(message, " and its limit ");
        append_value(message, doc, limit);
        buffer_append_str(message, ": Kubernetes needs them equal");
        return false;
    }
    *gpus = n;
    return true;
}

bool worker_resources_read(const json_document *doc, int resources, int64_t *gpus,
                           buffer *message, admission_warnings *warnings)
{
    *gpus = 0;
    if (json_length(doc, resources) == 0) /* the usual "resources": {} */
        return true;
    int limits = json_object_get(doc, resources, "limits");
    int requests = json_object_get(doc, resources, "requests");
    if (!read_gpus(doc, limits, requests, gpus, message))
        return false;
    warn_not_carried(doc, limits, "limits", warnings);
    warn_not_carried(doc, requests, "requests", warnings);
    if (json_length(doc, json_object_get(doc, resources, "claims")) > 0)
        admission_warnings_add(warnings, RESOURCES ".claims is not carried to Azure Batch: it "
                                         "has no resource claims");
    return true;
}
