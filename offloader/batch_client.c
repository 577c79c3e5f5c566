/* Batch REST operations; see batch_client.h.
 *
 * Signing (per attempt, so a retry carries a fresh ocp-date): Shared Key
 * over exactly the headers sent, as azure/shared_key.c documents. Bodies
 * are sent as "application/json; odata=minimalmetadata", what the service
 * and its SDKs use. */
#include "batch_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch_requests.h"
#include "clock.h"
#include "json_reader.h"
#include "offload_contract.h"
#include "shared_key.h"
#include "tls.h"
#include "url.h"

/* Token limits for what the service answers: the task counts (a dozen
 * values), one job or pool, a page of up to 1,000 tasks with their
 * execution details. */
#define TASK_COUNT_TOKENS 4096
#define RESOURCE_TOKENS 65536
#define TASK_PAGE_TOKENS (1 << 22)

#define JSON_CONTENT_TYPE "application/json; odata=minimalmetadata"
#define SERVER_TIMEOUT "timeout=30"

static void new_request_id(char out[37])
{
    uint8_t r[16];
    if (!crypto_random_bytes(r, sizeof(r)))
        memset(r, 0, sizeof(r));
    r[6] = (uint8_t)((r[6] & 0x0F) | 0x40); /* version 4 */
    r[8] = (uint8_t)((r[8] & 0x3F) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12],
             r[13], r[14], r[15]);
}

/* Before every attempt: the date, then a Bearer token or a Shared Key
 * signature over the request as it will be sent. */
static bool sign_batch_request(http_exchange *x, void *context)
{
    const batch_client *b = context;
    char date[32];
    clock_http_date(time(NULL), date);
    http_exchange_set_header(x, "ocp-date", date);
    if (b->tokens) {
        char error[256];
        bool refused;
        const char *token =
            entra_token_for(b->tokens, &ENTRA_BATCH, error, sizeof(error), &refused);
        if (!token) {
            snprintf(x->error, sizeof(x->error), "no Entra ID token: %.200s", error);
            return false;
        }
        buffer authorization;
        buffer_init(&authorization, 0);
        buffer_appendf(&authorization, "Bearer %s", token);
        http_exchange_set_header(x, "Authorization", buffer_cstr(&authorization));
        buffer_free(&authorization);
        return true;
    }
    signed_request view;
    buffer path, query, authorization;
    buffer_init(&path, 0);
    buffer_init(&query, 0);
    buffer_init(&authorization, 0);
    http_exchange_signed_view(x, &view, &path, &query);
    bool ok = shared_key_authorization(SHARED_KEY_BATCH, b->account->batch_name,
                                       b->account->batch_key, b->account->batch_key_len, &view,
                                       &authorization);
    if (ok)
        http_exchange_set_header(x, "Authorization", buffer_cstr(&authorization));
    buffer_free(&path);
    buffer_free(&query);
    buffer_free(&authorization);
    return ok;
}

void batch_exchange_init(batch_client *b, http_exchange *x, const char *method, const char *path,
                         const char *query)
{
    buffer url;
    buffer_init(&url, 0);
    buffer_appendf(&url, "%s%s?api-version=", b->account->batch_url, path);
    url_encode_into(&url, b->config->api_version, false);
    buffer_append_str(&url, "&" SERVER_TIMEOUT);
    if (query && *query)
        buffer_appendf(&url, "&%s", query);
    http_exchange_init(x, method, buffer_cstr(&url));
    buffer_free(&url);
    char request_id[37];
    new_request_id(request_id);
    http_exchange_set_header(x, "client-request-id", request_id);
    http_exchange_set_header(x, "Accept", "application/json");
    if (strcmp(method, "POST") == 0 || strcmp(method, "PATCH") == 0 || strcmp(method, "PUT") == 0)
        http_exchange_set_header(x, "Content-Type", JSON_CONTENT_TYPE);
    x->prepare = sign_batch_request;
    x->prepare_context = b;
}

/* Runs one operation to its end; false only when cancelled. */
static bool run(batch_client *b, http_exchange *x, batch_result *r)
{
    bool finished = http_client_run_one(b->http, x);
    batch_result_read(x, r);
    return finished;
}

static void job_path(batch_client *b, buffer *path, const char *suffix)
{
    buffer_append_str(path, "/jobs/");
    url_encode_into(path, b->job_id ? b->job_id : b->config->job_id, false);
    buffer_append_str(path, suffix);
}

/* A bodyless or JSON-bodied operation on the job. */
static bool job_operation(batch_client *b, const char *method, const char *suffix,
                          const char *query, const buffer *body, http_exchange *x,
                          batch_result *r)
{
    buffer path;
    buffer_init(&path, 0);
    job_path(b, &path, suffix);
    batch_exchange_init(b, x, method, buffer_cstr(&path), query);
    buffer_free(&path);
    if (body)
        buffer_append(&x->body, body->data, body->len);
    return run(b, x, r);
}

static batch_job_state parse_state(const json_document *doc, int t)
{
    static const struct {
        const char *name;
        batch_job_state state;
    } states[] = {{"active", JOB_STATE_ACTIVE},       {"terminating", JOB_STATE_TERMINATING},
                  {"completed", JOB_STATE_COMPLETED}, {"deleting", JOB_STATE_DELETING},
                  {"disabling", JOB_STATE_DISABLING}, {"disabled", JOB_STATE_DISABLED},
                  {"enabling", JOB_STATE_ENABLING}};
    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
        if (json_string_equals(doc, t, states[i].name))
            return states[i].state;
    return JOB_STATE_UNKNOWN;
}

/* "name: value; ..." of a list of NameValuePair (how Batch details its errors). */
static void append_name_values(const json_document *doc, int list, buffer *out)
{
    json_iterator it = json_iterate(doc, list);
    int item;
    while (json_iterator_next(&it, &item)) {
        char *name = json_string_dup(doc, json_object_get(doc, item, "name"));
        char *value = json_string_dup(doc, json_object_get(doc, item, "value"));
        buffer_appendf(out, "%s%s: %s", out->len ? "; " : "", name ? name : "?",
                       value ? value : "");
        free(name);
        free(value);
    }
}

/* executionInfo.schedulingError (BatchJobSchedulingError): Batch's own words for why
 * the job cannot run, e.g. an auto pool it could not create. */
static void read_scheduling_error(const json_document *doc, int error, job_info *job)
{
    char *code = json_string_dup(doc, json_object_get(doc, error, "code"));
    if (!code)
        return;
    char *message = json_string_dup(doc, json_object_get(doc, error, "message"));
    buffer details;
    buffer_init(&details, 0);
    append_name_values(doc, json_object_get(doc, error, "details"), &details);
    snprintf(job->scheduling_error, sizeof(job->scheduling_error), "%s: %s%s%s%s", code,
             message ? message : "", details.len ? " (" : "", buffer_cstr(&details),
             details.len ? ")" : "");
    job->scheduling_user_error =
        json_string_equals(doc, json_object_get(doc, error, "category"), "usererror");
    buffer_free(&details);
    free(code);
    free(message);
}

/* One metadata value, or empty when it is absent or longer than out holds
 * (a value cut short would name another object). */
static void metadata_value(const json_document *doc, int items, const char *name, char *out,
                           size_t size)
{
    out[0] = '\0';
    json_iterator it = json_iterate(doc, items);
    int item;
    while (json_iterator_next(&it, &item)) {
        if (!json_string_equals(doc, json_object_get(doc, item, "name"), name))
            continue;
        char *value = json_string_dup(doc, json_object_get(doc, item, "value"));
        if (value && strlen(value) < size)
            memcpy(out, value, strlen(value) + 1);
        free(value);
        return;
    }
}

bool batch_get_job(batch_client *b, job_info *job, batch_result *r)
{
    http_exchange x;
    memset(job, 0, sizeof(*job));
    bool finished = job_operation(b, "GET", "",
                                  "%24select=id,state,onAllTasksComplete,executionInfo,metadata",
                                  NULL, &x, r);
    json_document doc;
    char error[64];
    if (finished && batch_result_ok(r) &&
        json_document_parse(&doc, x.response.data, x.response.len, RESOURCE_TOKENS, error,
                            sizeof(error))) {
        job->state = parse_state(&doc, json_object_get(&doc, 0, "state"));
        job->finishes_when_done = json_string_equals(
            &doc, json_object_get(&doc, 0, "onAllTasksComplete"), "terminatejob");
        char inputs[8];
        metadata_value(&doc, json_object_get(&doc, 0, "metadata"), OFFLOAD_METADATA_INPUTS,
                       inputs, sizeof(inputs));
        job->without_inputs = strcmp(inputs, OFFLOAD_METADATA_NO_INPUTS) == 0;
        int execution = json_object_get(&doc, 0, "executionInfo");
        char *reason = json_string_dup(&doc, json_object_get(&doc, execution, "terminateReason"));
        char *pool = json_string_dup(&doc, json_object_get(&doc, execution, "poolId"));
        snprintf(job->terminate_reason, sizeof(job->terminate_reason), "%s",
                 reason ? reason : "");
        snprintf(job->pool_id, sizeof(job->pool_id), "%s", pool ? pool : "");
        read_scheduling_error(&doc, json_object_get(&doc, execution, "schedulingError"), job);
        free(reason);
        free(pool);
        json_document_free(&doc);
    }
    http_exchange_free(&x);
    return finished;
}

static bool simple_operation(batch_client *b, const char *method, const char *suffix,
                             const buffer *body, batch_result *r)
{
    http_exchange x;
    bool finished = job_operation(b, method, suffix, NULL, body, &x, r);
    http_exchange_free(&x);
    return finished;
}

bool batch_create_job(batch_client *b, const buffer *body, batch_result *r)
{
    http_exchange x;
    batch_exchange_init(b, &x, "POST", "/jobs", NULL);
    buffer_append(&x.body, body->data, body->len);
    bool finished = run(b, &x, r);
    http_exchange_free(&x);
    return finished;
}

bool batch_update_job(batch_client *b, const buffer *body, batch_result *r)
{
    return simple_operation(b, "PATCH", "", body, r);
}

bool batch_terminate_job(batch_client *b, const char *reason, batch_result *r)
{
    buffer body;
    buffer_init(&body, 0);
    batch_job_terminate_body(reason, &body);
    bool finished = simple_operation(b, "POST", "/terminate", &body, r);
    buffer_free(&body);
    return finished;
}

bool batch_disable_job(batch_client *b, batch_result *r)
{
    buffer body;
    buffer_init(&body, 0);
    buffer_append_str(&body, "{\"disableTasks\":\"requeue\"}");
    bool finished = simple_operation(b, "POST", "/disable", &body, r);
    buffer_free(&body);
    return finished;
}

bool batch_enable_job(batch_client *b, batch_result *r)
{
    return simple_operation(b, "POST", "/enable", NULL, r);
}

bool batch_delete_job(batch_client *b, batch_result *r)
{
    return simple_operation(b, "DELETE", "", NULL, r);
}

bool batch_get_task_counts(batch_client *b, task_counts *counts, batch_result *r)
{
    http_exchange x;
    memset(counts, 0, sizeof(*counts));
    bool finished = job_operation(b, "GET", "/taskcounts", NULL, NULL, &x, r);
    json_document doc;
    char error[64];
    if (finished && batch_result_ok(r)) {
        if (json_document_parse(&doc, x.response.data, x.response.len, TASK_COUNT_TOKENS, error,
                                sizeof(error))) {
            int c = json_object_get(&doc, 0, "taskCounts");
            static const char *const names[] = {"active", "running", "completed", "succeeded",
                                                "failed"};
            int64_t *fields[] = {&counts->active, &counts->running, &counts->completed,
                                 &counts->succeeded, &counts->failed};
            bool complete = c >= 0;
            for (size_t i = 0; i < 5; i++)
                complete &= json_read_int64(&doc, json_object_get(&doc, c, names[i]), 0,
                                            INT64_MAX, fields[i]);
            json_document_free(&doc);
            if (!complete) {
                r->status = 0; /* an answer we cannot use counts as none */
                snprintf(r->transport, sizeof(r->transport), "task counts missing in the answer");
            }
        }
    }
    http_exchange_free(&x);
    return finished;
}

static void pool_path(const char *pool_id, const char *suffix, buffer *path)
{
    buffer_append_str(path, "/pools/");
    url_encode_into(path, pool_id, false);
    buffer_append_str(path, suffix);
}

static int64_t int_or_zero(const json_document *doc, int token)
{
    int64_t value = 0;
    json_read_int64(doc, token, 0, INT64_MAX, &value);
    return value;
}

static void read_resize_error(const json_document *doc, int e, pool_resize_error *out)
{
    char *code = json_string_dup(doc, json_object_get(doc, e, "code"));
    char *message = json_string_dup(doc, json_object_get(doc, e, "message"));
    buffer values;
    buffer_init(&values, 0);
    append_name_values(doc, json_object_get(doc, e, "values"), &values);
    snprintf(out->code, sizeof(out->code), "%s", code ? code : "?");
    snprintf(out->message, sizeof(out->message), "%s", message ? message : "");
    snprintf(out->values, sizeof(out->values), "%s", buffer_cstr(&values));
    buffer_free(&values);
    free(code);
    free(message);
}

static void read_pool(const json_document *doc, batch_pool_info *pool)
{
    pool->deleting = json_string_equals(doc, json_object_get(doc, 0, "state"), "deleting");
    pool->has_container_configuration =
        json_lookup(doc, 0, "virtualMachineConfiguration", "containerConfiguration", NULL) >= 0;
    pool->auto_scale = json_is_true(doc, json_object_get(doc, 0, "enableAutoScale"));
    pool->autoscale_formula = json_string_dup(doc, json_object_get(doc, 0, "autoScaleFormula"));
    pool->current_dedicated = int_or_zero(doc, json_object_get(doc, 0, "currentDedicatedNodes"));
    pool->current_spot = int_or_zero(doc, json_object_get(doc, 0, "currentLowPriorityNodes"));
    json_iterator it = json_iterate(doc, json_object_get(doc, 0, "resizeErrors"));
    int e;
    while (pool->error_count < POOL_RESIZE_ERRORS_KEPT && json_iterator_next(&it, &e))
        read_resize_error(doc, e, &pool->errors[pool->error_count++]);
}

bool batch_get_pool(batch_client *b, const char *pool_id, batch_pool_info *pool, batch_result *r)
{
    memset(pool, 0, sizeof(*pool));
    buffer path;
    buffer_init(&path, 0);
    pool_path(pool_id, "", &path);
    http_exchange x;
    batch_exchange_init(b, &x, "GET", buffer_cstr(&path),
                        "%24select=id,state,virtualMachineConfiguration,enableAutoScale,"
                        "autoScaleFormula,currentDedicatedNodes,currentLowPriorityNodes,"
                        "resizeErrors");
    buffer_free(&path);
    bool finished = run(b, &x, r);
    json_document doc;
    char error[64];
    if (finished && batch_result_ok(r)) {
        if (json_document_parse(&doc, x.response.data, x.response.len, RESOURCE_TOKENS, error,
                                sizeof(error))) {
            read_pool(&doc, pool);
            json_document_free(&doc);
        } else { /* an answer we cannot read counts as none */
            r->status = 0;
            snprintf(r->transport, sizeof(r->transport), "the pool is not JSON: %s", error);
        }
    }
    http_exchange_free(&x);
    return finished;
}

void batch_pool_info_free(batch_pool_info *pool)
{
    free(pool->autoscale_formula);
    pool->autoscale_formula = NULL;
}

void batch_pool_describe_errors(const batch_pool_info *pool, buffer *out)
{
    for (size_t i = 0; i < pool->error_count; i++) {
        const pool_resize_error *e = &pool->errors[i];
        buffer_appendf(out, "%s%s: %s", i ? "; " : "", e->code, e->message);
        if (e->values[0])
            buffer_appendf(out, " (%s)", e->values);
    }
}

bool batch_enable_pool_autoscale(batch_client *b, const char *pool_id, const char *formula,
                                 const char *evaluation_interval, batch_result *r)
{
    buffer path, body;
    buffer_init(&path, 0);
    buffer_init(&body, 0);
    pool_path(pool_id, "/enableautoscale", &path);
    json_writer w;
    json_writer_init(&w, &body);
    json_object_begin(&w);
    json_member_string(&w, "autoScaleFormula", formula);
    json_member_string(&w, "autoScaleEvaluationInterval", evaluation_interval);
    json_object_end(&w);
    http_exchange x;
    batch_exchange_init(b, &x, "POST", buffer_cstr(&path), NULL);
    buffer_append(&x.body, body.data, body.len);
    bool finished = run(b, &x, r);
    http_exchange_free(&x);
    buffer_free(&path);
    buffer_free(&body);
    return finished;
}

/* Pages of a list: the next page's URL comes back as odata.nextLink. */
static bool list_pages(batch_client *b, const char *path, const char *query,
                       void (*visit_page)(void *context, const json_document *doc, int value),
                       void *context, batch_result *r)
{
    http_exchange x;
    batch_exchange_init(b, &x, "GET", path, query);
    for (;;) {
        if (!run(b, &x, r)) {
            http_exchange_free(&x);
            return false;
        }
        if (!batch_result_ok(r))
            break;
        json_document doc;
        char error[64];
        if (!json_document_parse(&doc, x.response.data, x.response.len, TASK_PAGE_TOKENS, error,
                                 sizeof(error))) {
            r->status = 0;
            snprintf(r->transport, sizeof(r->transport), "the list %s is not JSON: %s", path,
                     error);
            break;
        }
        visit_page(context, &doc, json_object_get(&doc, 0, "value"));
        char *next = json_string_dup(&doc, json_object_get(&doc, 0, "odata.nextLink"));
        json_document_free(&doc);
        if (!next)
            break;
        /* nextLink is absolute and carries api-version; sign it as it is. */
        http_exchange_free(&x);
        http_exchange_init(&x, "GET", next);
        free(next);
        char request_id[37];
        new_request_id(request_id);
        http_exchange_set_header(&x, "client-request-id", request_id);
        http_exchange_set_header(&x, "Accept", "application/json");
        x.prepare = sign_batch_request;
        x.prepare_context = b;
    }
    http_exchange_free(&x);
    return true;
}

static bool list_tasks(batch_client *b, const char *query,
                       void (*visit_page)(void *context, const json_document *doc, int value),
                       void *context, batch_result *r)
{
    buffer path;
    buffer_init(&path, 0);
    job_path(b, &path, "/tasks");
    bool finished = list_pages(b, buffer_cstr(&path), query, visit_page, context, r);
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

typedef struct job_visitor {
    void (*visit)(void *context, const batch_job_summary *job);
    void *context;
} job_visitor;

static void visit_jobs(void *context, const json_document *doc, int value)
{
    job_visitor *v = context;
    json_iterator it = json_iterate(doc, value);
    int element;
    while (json_iterator_next(&it, &element)) {
        batch_job_summary job;
        memset(&job, 0, sizeof(job));
        char *id = json_string_dup(doc, json_object_get(doc, element, "id"));
        if (!id || strlen(id) >= sizeof(job.id)) {
            free(id);
            continue;
        }
        memcpy(job.id, id, strlen(id) + 1);
        free(id);
        job.state = parse_state(doc, json_object_get(doc, element, "state"));
        int metadata = json_object_get(doc, element, "metadata");
        char creator[32];
        metadata_value(doc, metadata, OFFLOAD_METADATA_CREATED_BY, creator, sizeof(creator));
        job.made_by_offloader = strcmp(creator, OFFLOAD_METADATA_CREATOR) == 0;
        metadata_value(doc, metadata, OFFLOAD_METADATA_NAMESPACE, job.namespace_name,
                       sizeof(job.namespace_name));
        metadata_value(doc, metadata, OFFLOAD_METADATA_JOB_NAME, job.job_name,
                       sizeof(job.job_name));
        metadata_value(doc, metadata, OFFLOAD_METADATA_JOB_UID, job.job_uid, sizeof(job.job_uid));
        v->visit(v->context, &job);
    }
}

bool batch_list_jobs(batch_client *b, void (*visit)(void *context, const batch_job_summary *job),
                     void *context, batch_result *r)
{
    job_visitor v = {visit, context};
    return list_pages(b, "/jobs", "%24select=id,state,metadata&maxresults=1000", visit_jobs, &v,
                      r);
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
    job_path(b, path, "/tasks/");
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
    bool finished = run(b, &x, r);
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
    bool finished = run(b, &head, r);
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

typedef struct image_visitor {
    void (*visit)(void *context, const supported_image *image);
    void *context;
} image_visitor;

static void copy_string(const json_document *doc, int token, char *out, size_t size)
{
    char *value = json_string_dup(doc, token);
    snprintf(out, size, "%s", value ? value : "");
    free(value);
}

static void visit_images(void *context, const json_document *doc, int value)
{
    image_visitor *v = context;
    json_iterator it = json_iterate(doc, value);
    int element;
    while (json_iterator_next(&it, &element)) {
        supported_image image;
        memset(&image, 0, sizeof(image));
        int reference = json_object_get(doc, element, "imageReference");
        copy_string(doc, json_object_get(doc, reference, "publisher"), image.publisher,
                    sizeof(image.publisher));
        copy_string(doc, json_object_get(doc, reference, "offer"), image.offer,
                    sizeof(image.offer));
        copy_string(doc, json_object_get(doc, reference, "sku"), image.sku, sizeof(image.sku));
        copy_string(doc, json_object_get(doc, element, "nodeAgentSKUId"), image.node_agent,
                    sizeof(image.node_agent));
        copy_string(doc, json_object_get(doc, element, "batchSupportEndOfLife"),
                    image.end_of_life, sizeof(image.end_of_life));
        json_iterator capabilities = json_iterate(doc, json_object_get(doc, element,
                                                                       "capabilities"));
        int capability;
        while (json_iterator_next(&capabilities, &capability))
            image.docker_compatible |= json_string_equals(doc, capability, "DockerCompatible");
        v->visit(v->context, &image);
    }
}

bool batch_list_supported_images(batch_client *b,
                                 void (*visit)(void *context, const supported_image *image),
                                 void *context, batch_result *r)
{
    image_visitor v = {visit, context};
    return list_pages(b, "/supportedimages", "maxresults=1000", visit_images, &v, r);
}
