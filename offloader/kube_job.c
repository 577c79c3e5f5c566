/* The offloader's Job and pod through the API; see kube_job.h. */
#include "kube_job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_reader.h"
#include "json_writer.h"
#include "offload_contract.h"

/* A Job or pod object: labels, annotations, managed fields, the template. */
#define OBJECT_TOKENS 65536

static void object_path(buffer *path, const char *group_version, const char *resource,
                        const kube_job_ref *ref, const char *name)
{
    buffer_append_str(path, group_version);
    buffer_append_str(path, "/namespaces/");
    kube_path_append(path, ref->namespace_name);
    buffer_append_char(path, '/');
    buffer_append_str(path, resource);
    buffer_append_char(path, '/');
    kube_path_append(path, name);
}

/* A 404 that is the API server's own NotFound Status: a proxy's or a wrong
 * path's 404 must not be read as "the Job is gone" (that ends the work). */
static bool is_not_found_status(const buffer *body)
{
    json_document doc;
    char error[64];
    if (!json_document_parse(&doc, body->data, body->len, 1024, error, sizeof(error)))
        return false;
    bool not_found = json_string_equals(&doc, json_object_get(&doc, 0, "kind"), "Status") &&
                     json_string_equals(&doc, json_object_get(&doc, 0, "reason"), "NotFound");
    json_document_free(&doc);
    return not_found;
}

/* Whether the Job has a condition that ends it, and which reason it gives. */
static void read_end(const json_document *doc, kube_job_state *state)
{
    static const char *const ending[] = {"Failed", "FailureTarget", "Complete",
                                         "SuccessCriteriaMet"};
    json_iterator it = json_iterate(doc, json_lookup(doc, 0, "status", "conditions", NULL));
    int condition;
    while (!state->ended && json_iterator_next(&it, &condition)) {
        if (!json_string_equals(doc, json_object_get(doc, condition, "status"), "True"))
            continue;
        int type = json_object_get(doc, condition, "type");
        for (size_t i = 0; i < sizeof(ending) / sizeof(ending[0]) && !state->ended; i++)
            state->ended = json_string_equals(doc, type, ending[i]);
        if (!state->ended)
            continue;
        char *reason = json_string_dup(doc, json_object_get(doc, condition, "reason"));
        char *kind = json_string_dup(doc, type);
        snprintf(state->ended_reason, sizeof(state->ended_reason), "%s",
                 reason && reason[0] ? reason : kind ? kind : "");
        free(reason);
        free(kind);
    }
}

bool kube_job_read(kube_client *k, const kube_job_ref *ref, kube_job_state *state)
{
    memset(state, 0, sizeof(*state));
    buffer path;
    buffer_init(&path, 0);
    object_path(&path, "/apis/batch/v1", "jobs", ref, ref->name);
    kube_answer a;
    kube_answer_init(&a);
    kube_request(k, "GET", buffer_cstr(&path), NULL, NULL, &a);
    buffer_free(&path);
    json_document doc;
    char error[64];
    if (a.status == 404) {
        state->answered = is_not_found_status(&a.body);
    } else if (a.status == 200 &&
               json_document_parse(&doc, a.body.data, a.body.len, OBJECT_TOKENS, error,
                                   sizeof(error))) {
        int metadata = json_object_get(&doc, 0, "metadata");
        state->answered = true;
        state->exists = !ref->uid || !ref->uid[0] ||
                        json_string_equals(&doc, json_object_get(&doc, metadata, "uid"),
                                           ref->uid);
        state->deleting = json_type_of(&doc, json_object_get(&doc, metadata,
                                                            "deletionTimestamp")) == JSON_STRING;
        state->suspended = json_is_true(&doc, json_lookup(&doc, 0, "spec", "suspend", NULL));
        read_end(&doc, state);
        if (state->exists)
            state->result = json_string_dup(
                &doc, json_lookup(&doc, metadata, "annotations", OFFLOAD_ANNOTATION_RESULT, NULL));
        json_document_free(&doc);
    }
    kube_answer_free(&a);
    return state->answered;
}

void kube_job_state_free(kube_job_state *state)
{
    free(state->result);
    state->result = NULL;
}

bool kube_job_annotate(kube_client *k, const kube_job_ref *ref, const char *const *keys,
                       const char *const *values, size_t count)
{
    buffer body;
    buffer_init(&body, 0);
    json_writer w;
    json_writer_init(&w, &body);
    json_object_begin(&w);
    json_key(&w, "metadata");
    json_object_begin(&w);
    json_key(&w, "annotations");
    json_object_begin(&w);
    for (size_t i = 0; i < count; i++)
        json_member_string(&w, keys[i], values[i]);
    json_object_end(&w);
    json_object_end(&w);
    json_object_end(&w);
    bool ok = json_writer_finish(&w);
    if (ok) {
        buffer path;
        buffer_init(&path, 0);
        object_path(&path, "/apis/batch/v1", "jobs", ref, ref->name);
        kube_answer a;
        kube_answer_init(&a);
        kube_request(k, "PATCH", buffer_cstr(&path), "application/merge-patch+json", &body, &a);
        ok = a.status == 200;
        kube_answer_free(&a);
        buffer_free(&path);
    }
    buffer_free(&body);
    return ok;
}

bool kube_pod_disrupted(kube_client *k, const kube_job_ref *ref)
{
    if (!ref->pod_name || !ref->pod_name[0])
        return false;
    buffer path;
    buffer_init(&path, 0);
    object_path(&path, "/api/v1", "pods", ref, ref->pod_name);
    kube_answer a;
    kube_answer_init(&a);
    kube_request(k, "GET", buffer_cstr(&path), NULL, NULL, &a);
    buffer_free(&path);
    bool disrupted = false;
    json_document doc;
    char error[64];
    if (a.status == 200 &&
        json_document_parse(&doc, a.body.data, a.body.len, OBJECT_TOKENS, error, sizeof(error))) {
        json_iterator it = json_iterate(&doc, json_lookup(&doc, 0, "status", "conditions", NULL));
        int condition;
        while (json_iterator_next(&it, &condition))
            if (json_string_equals(&doc, json_object_get(&doc, condition, "type"),
                                   "DisruptionTarget") &&
                json_string_equals(&doc, json_object_get(&doc, condition, "status"), "True"))
                disrupted = true;
        json_document_free(&doc);
    }
    kube_answer_free(&a);
    return disrupted;
}
