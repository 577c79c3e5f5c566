/* Listing a namespace's Jobs; see kube_job_list.h.
 *
 * The list is asked for as PartialObjectMetadataList (what client-go's
 * metadata informers use): the API server leaves out every spec and status,
 * so a page is the Jobs' metadata alone. Pages follow metadata.continue. */
#include "kube_job_list.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_reader.h"
#include "offload_contract.h"

#define METADATA_ONLY "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
/* A page of metadata: a hundred Jobs, each with its managed fields. */
#define PAGE_TOKENS (1 << 20)
#define PAGE_BYTES (16 * 1024 * 1024)

/* Visits a page's Jobs; the continue token (malloc'd, NULL at the end) into *next. */
static bool visit_page(const kube_answer *a, kube_job_visitor visit, void *context, char **next,
                       char *why, size_t why_size)
{
    json_document doc;
    char error[64];
    if (!json_document_parse(&doc, a->body.data, a->body.len, PAGE_TOKENS, error,
                             sizeof(error))) {
        snprintf(why, why_size, "the API server's list of Jobs is not readable: %s", error);
        return false;
    }
    json_iterator it = json_iterate(&doc, json_object_get(&doc, 0, "items"));
    int item;
    while (json_iterator_next(&it, &item)) {
        int metadata = json_object_get(&doc, item, "metadata");
        char *name = json_string_dup(&doc, json_object_get(&doc, metadata, "name"));
        char *uid = json_string_dup(&doc, json_object_get(&doc, metadata, "uid"));
        char *result = json_string_dup(
            &doc, json_lookup(&doc, metadata, "annotations", OFFLOAD_ANNOTATION_RESULT, NULL));
        kube_job_metadata job = {
            .name = name, .uid = uid, .result = result,
            .deleting = json_type_of(&doc, json_object_get(&doc, metadata, "deletionTimestamp")) ==
                        JSON_STRING};
        if (name && uid)
            visit(context, &job);
        free(name);
        free(uid);
        free(result);
    }
    char *token = json_string_dup(&doc, json_lookup(&doc, 0, "metadata", "continue", NULL));
    json_document_free(&doc);
    if (token && !token[0]) {
        free(token);
        token = NULL;
    }
    *next = token;
    return true;
}

bool kube_job_list(kube_client *k, const char *namespace_name, kube_job_visitor visit,
                   void *context, char *why, size_t why_size)
{
    char *next = NULL;
    bool ok = true;
    do {
        buffer path;
        buffer_init(&path, 0);
        buffer_append_str(&path, "/apis/batch/v1/namespaces/");
        kube_path_append(&path, namespace_name);
        char query[32];
        snprintf(query, sizeof(query), "/jobs?limit=%d", KUBE_JOB_LIST_PAGE);
        buffer_append_str(&path, query);
        if (next) {
            buffer_append_str(&path, "&continue=");
            kube_path_append(&path, next);
            free(next);
            next = NULL;
        }
        kube_answer a;
        kube_answer_init_limited(&a, PAGE_BYTES);
        kube_request_accepting(k, "GET", buffer_cstr(&path), METADATA_ONLY, &a);
        buffer_free(&path);
        if (a.status == 200) {
            ok = visit_page(&a, visit, context, &next, why, why_size);
        } else {
            /* A 410 is an expired continue token: the next run starts over. */
            if (a.status)
                snprintf(why, why_size, "HTTP %ld: %s", a.status, a.error);
            else
                snprintf(why, why_size, "%s", a.error);
            ok = false;
        }
        kube_answer_free(&a);
    } while (ok && next);
    free(next);
    return ok;
}
