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

#include "batch_operation.h"
#include "batch_requests.h"
#include "clock.h"
#include "json_reader.h"
#include "offload_contract.h"
#include "shared_key.h"
#include "tls.h"
#include "url.h"

/* Token limits for what the service answers: the task counts (a dozen
 * values), a page of up to 1,000 tasks with their execution details (one
 * job or pool: batch_operation.h). */
#define TASK_COUNT_TOKENS 4096
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

bool batch_run(batch_client *b, http_exchange *x, batch_result *r)
{
    bool finished = http_client_run_one(b->http, x);
    batch_result_read(x, r);
    return finished;
}

void batch_job_path(batch_client *b, buffer *path, const char *suffix)
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
    batch_job_path(b, &path, suffix);
    batch_exchange_init(b, x, method, buffer_cstr(&path), query);
    buffer_free(&path);
    if (body)
        buffer_append(&x->body, body->data, body->len);
    return batch_run(b, x, r);
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

void batch_append_name_values(const json_document *doc, int list, buffer *out)
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
    batch_append_name_values(doc, json_object_get(doc, error, "details"), &details);
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
    bool finished = batch_run(b, &x, r);
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

/* The next page's URL comes back as odata.nextLink. */
bool batch_list_pages(batch_client *b, const char *path, const char *query,
                      void (*visit_page)(void *context, const json_document *doc, int value),
                      void *context, batch_result *r)
{
    http_exchange x;
    batch_exchange_init(b, &x, "GET", path, query);
    for (;;) {
        if (!batch_run(b, &x, r)) {
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
    return batch_list_pages(b, "/jobs", "%24select=id,state,metadata&maxresults=1000", visit_jobs, &v,
                      r);
}

