/* What the offloader reads of its job's tasks: their ids, failed attempts,
 * succeeded indexes and failures (paged lists), and the tail or head of a
 * task's file; see batch_client.h. */
#include "batch_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_operation.h"
#include "job_plan.h"
#include "url.h"

static bool list_tasks(batch_client *b, const char *query,
                       void (*visit_page)(void *context, const json_document *doc, int value),
                       void *context, batch_result *r)
{
    buffer path;
    buffer_init(&path, 0);
    batch_job_path(b, &path, "/tasks");
    bool finished = batch_list_pages(b, buffer_cstr(&path), query, visit_page, context, r);
    buffer_free(&path);
    return finished;
}

typedef struct id_visitor {
    void (*visit)(void *context, const char *id);
    void *context;
} id_visitor;

static void visit_ids(void *context, const json_document *doc, int value)
{
    id_visitor *v = context;
    json_iterator it = json_iterate(doc, value);
    int task;
    while (json_iterator_next(&it, &task)) {
        char *id = json_string_dup(doc, json_object_get(doc, task, "id"));
        if (id)
            v->visit(v->context, id);
        free(id);
    }
}

bool batch_list_task_ids(batch_client *b, void (*visit)(void *context, const char *id),
                         void *context, batch_result *r)
{
    id_visitor v = {visit, context};
    return list_tasks(b, "%24select=id&maxresults=1000", visit_ids, &v, r);
}

/* Failed runs of the worker tasks, retries included: what backoffLimit
 * counts (the aggregator is batch-offload's own, not the Job's). */
static void count_failed_attempts(void *context, const json_document *doc, int value)
{
    long *attempts = context;
    json_iterator it = json_iterate(doc, value);
    int task;
    while (json_iterator_next(&it, &task)) {
        if (json_string_equals(doc, json_object_get(doc, task, "id"), AGGREGATOR_TASK_ID))
            continue;
        int info = json_object_get(doc, task, "executionInfo");
        int64_t retries = 0;
        json_read_int64(doc, json_object_get(doc, info, "retryCount"), 0, INT32_MAX, &retries);
        *attempts += (long)retries +
                     json_string_equals(doc, json_object_get(doc, info, "result"), "failure");
    }
}

bool batch_count_failed_attempts(batch_client *b, long *attempts, batch_result *r)
{
    *attempts = 0;
    return list_tasks(b, "%24select=id,executionInfo&maxresults=1000", count_failed_attempts,
                      attempts, r);
}

typedef struct index_marker {
    unsigned char *bitmap;
    long completions;
} index_marker;

static void mark_index(void *context, const char *id)
{
    index_marker *m = context;
    long index = job_plan_worker_index(id, m->completions);
    if (index >= 0)
        m->bitmap[index / 8] |= (unsigned char)(1u << (index % 8));
}

bool batch_mark_succeeded_indexes(batch_client *b, unsigned char *bitmap, long completions,
                                  batch_result *r)
{
    index_marker m = {bitmap, completions};
    id_visitor v = {mark_index, &m};
    return list_tasks(b,
                      "%24filter=executionInfo%2Fresult%20eq%20%27success%27"
                      "&%24select=id&maxresults=1000",
                      visit_ids, &v, r);
}


typedef struct failure_collector {
    failed_task *out;
    size_t max;
    size_t count;
} failure_collector;

static void collect_failures(void *context, const json_document *doc, int value)
{
    failure_collector *f = context;
    json_iterator it = json_iterate(doc, value);
    int task;
    while (f->count < f->max && json_iterator_next(&it, &task)) {
        failed_task *t = &f->out[f->count++];
        memset(t, 0, sizeof(*t));
        char *id = json_string_dup(doc, json_object_get(doc, task, "id"));
        snprintf(t->id, sizeof(t->id), "%s", id ? id : "?");
        free(id);
        int info = json_object_get(doc, task, "executionInfo");
        t->has_exit_code = json_read_int64(doc, json_object_get(doc, info, "exitCode"),
                                           INT32_MIN, INT32_MAX, &t->exit_code);
        json_read_int64(doc, json_object_get(doc, info, "retryCount"), 0, INT32_MAX,
                        &t->retries);
        int failure = json_object_get(doc, info, "failureInfo");
        if (failure >= 0) {
            char *category = json_string_dup(doc, json_object_get(doc, failure, "category"));
            char *code = json_string_dup(doc, json_object_get(doc, failure, "code"));
            char *message = json_string_dup(doc, json_object_get(doc, failure, "message"));
            snprintf(t->failure_code, sizeof(t->failure_code), "%s", code ? code : "");
            snprintf(t->failure, sizeof(t->failure), "%s %s: %s", category ? category : "",
                     code ? code : "", message ? message : "");
            free(category);
            free(code);
            free(message);
        }
    }
}

bool batch_list_failed_tasks(batch_client *b, failed_task *out, size_t max, size_t *count,
                             batch_result *r)
{
    failure_collector f = {out, max, 0};
    bool finished = list_tasks(b,
                               "%24filter=executionInfo%2Fresult%20eq%20%27failure%27"
                               "&%24select=id,executionInfo&maxresults=100",
                               collect_failures, &f, r);
    *count = f.count;
    return finished;
}

static void task_file_path(batch_client *b, buffer *path, const char *task_id, const char *file)
{
    batch_job_path(b, path, "/tasks/");
    url_encode_into(path, task_id, false);
    buffer_append_str(path, "/files/");
    url_encode_into(path, file, true);
}

/* GET of a task's file, of the bytes from..to (inclusive) when from >= 0. */
static bool get_task_file(batch_client *b, const char *path, int64_t from, int64_t to,
                          buffer *out, batch_result *r)
{
    http_exchange x;
    batch_exchange_init(b, &x, "GET", path, NULL);
    if (from >= 0) {
        char range[64];
        snprintf(range, sizeof(range), "bytes=%lld-%lld", (long long)from, (long long)to);
        http_exchange_set_header(&x, "ocp-range", range);
    }
    bool finished = batch_run(b, &x, r);
    if (finished && batch_result_ok(r))
        buffer_append(out, x.response.data, x.response.len);
    http_exchange_free(&x);
    return finished;
}

bool batch_task_file_tail(batch_client *b, const char *task_id, const char *file,
                          size_t max_bytes, buffer *out, bool *cut, batch_result *r)
{
    *cut = false;
    buffer path;
    buffer_init(&path, 0);
    task_file_path(b, &path, task_id, file);
    http_exchange head;
    batch_exchange_init(b, &head, "HEAD", buffer_cstr(&path), NULL);
    bool finished = batch_run(b, &head, r);
    int64_t length = head.content_length;
    http_exchange_free(&head);
    if (!finished || !batch_result_ok(r)) {
        buffer_free(&path);
        return finished;
    }
    *cut = length > (int64_t)max_bytes;
    finished = *cut ? get_task_file(b, buffer_cstr(&path), length - (int64_t)max_bytes,
                                    length - 1, out, r)
                    : get_task_file(b, buffer_cstr(&path), -1, -1, out, r);
    buffer_free(&path);
    return finished;
}

bool batch_task_file_head(batch_client *b, const char *task_id, const char *file,
                          size_t max_bytes, buffer *out, batch_result *r)
{
    buffer path;
    buffer_init(&path, 0);
    task_file_path(b, &path, task_id, file);
    bool finished = get_task_file(b, buffer_cstr(&path), 0, (int64_t)max_bytes - 1, out, r);
    buffer_free(&path);
    return finished;
}

