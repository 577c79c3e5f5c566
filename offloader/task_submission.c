/* Task submission; see task_submission.h.
 *
 * The HTTP client pulls chunks from next_chunk() as slots free up and hands
 * answers to chunk_finished(), so only the chunks in flight are in memory
 * (a 10,000-task job is built 100 tasks at a time). The aggregator is
 * offered only once every worker is in: it depends on all of them. Tasks
 * the service answered with servererror go out again after a backoff, within
 * the retry budget, like any transient failure. */
#include "task_submission.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_requests.h"
#include "clock.h"
#include "json_reader.h"
#include "json_writer.h"
#include "log.h"
#include "retry_policy.h"

/* The answer to one addtaskcollection: up to 100 results, each a few values. */
#define RESULT_TOKENS (1 << 20)

/* The service refuses bodies of 1 MB or more; stay clear of it. */
#define BODY_LIMIT (1000 * 1000 - 4096)

typedef struct chunk {
    http_exchange x;
    long ids[TASKS_PER_COLLECTION]; /* worker index, or the plan's completions for the aggregator */
    size_t count;
} chunk;

typedef struct submitter {
    batch_client *b;
    const job_plan *plan;
    long workers;        /* N */
    long total;          /* N, + 1 with an aggregator */
    uint8_t *present;    /* per task: in the job */
    uint8_t *in_flight;  /* per task: in a chunk not yet answered */
    long scan;           /* next index to look at */
    long *resend;        /* ids to send again */
    size_t resend_count;
    size_t chunk_limit;  /* tasks per chunk; halved on RequestBodyTooLarge */
    long workers_pending; /* workers not yet present */
    submission_outcome outcome;
    submission_stats *stats;
    buffer *error;
    uint64_t last_report_ms;
    /* per-task servererror answers in a row, and since when */
    int server_error_rounds;
    uint64_t server_errors_since_ms;
    batch_result last_server_error;
} submitter;

static void mark_present(submitter *s, long id, bool already)
{
    if (s->present[id])
        return;
    s->present[id] = 1;
    if (id < s->workers)
        s->workers_pending--;
    if (already)
        s->stats->tasks_already_there++;
    else
        s->stats->tasks_added++;
}

static void fail(submitter *s, submission_outcome outcome, const char *what,
                 const batch_result *r)
{
    if (s->outcome != SUBMISSION_DONE)
        return; /* the first failure is the one reported */
    s->outcome = outcome;
    buffer_appendf(s->error, "%s: ", what);
    batch_result_describe(r, s->error);
}

/* The next task id to send, or -1. */
static long take_id(submitter *s)
{
    while (s->resend_count > 0) {
        long id = s->resend[--s->resend_count];
        if (!s->present[id] && !s->in_flight[id])
            return id;
    }
    while (s->scan < s->workers) {
        long id = s->scan++;
        if (!s->present[id] && !s->in_flight[id])
            return id;
    }
    /* The aggregator depends on every worker: it goes in last. */
    if (s->total > s->workers && s->workers_pending == 0 && !s->present[s->workers] &&
        !s->in_flight[s->workers])
        return s->workers;
    return -1;
}

static void write_task(const submitter *s, long id, buffer *out)
{
    json_writer w;
    json_writer_init(&w, out);
    if (id == s->workers)
        batch_aggregator_task_write(s->plan, &w);
    else
        batch_worker_task_write(s->plan, id, &w);
}

static http_exchange *next_chunk(void *context)
{
    submitter *s = context;
    if (s->outcome != SUBMISSION_DONE)
        return NULL;
    chunk *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    buffer path;
    buffer_init(&path, 0);
    buffer_appendf(&path, "/jobs/%s/addtaskcollection", s->plan->config->job_id);
    batch_exchange_init(s->b, &c->x, "POST", buffer_cstr(&path), NULL);
    buffer_free(&path);
    c->x.user = c;
    buffer task;
    buffer_init(&task, 0);
    buffer_append_str(&c->x.body, "{\"value\":[");
    long id;
    while (c->count < s->chunk_limit && (id = take_id(s)) >= 0) {
        buffer_reset(&task);
        write_task(s, id, &task);
        if (c->count > 0 && c->x.body.len + task.len + 3 > BODY_LIMIT) {
            s->resend[s->resend_count++] = id; /* next chunk */
            break;
        }
        if (c->count > 0)
            buffer_append_char(&c->x.body, ',');
        buffer_append(&c->x.body, task.data, task.len);
        c->ids[c->count++] = id;
        s->in_flight[id] = 1;
    }
    buffer_free(&task);
    buffer_append_str(&c->x.body, "]}");
    if (c->count == 0) {
        http_exchange_free(&c->x);
        free(c);
        return NULL;
    }
    s->stats->collection_calls++;
    return &c->x;
}

static long id_of(const submitter *s, const char *text)
{
    if (strcmp(text, AGGREGATOR_TASK_ID) == 0)
        return s->total > s->workers ? s->workers : -1;
    return job_plan_worker_index(text, s->workers);
}

/* Reads the per-task results of an answered chunk; returns how many were
 * servererror (the last one kept to report). */
static int read_results(submitter *s, chunk *c)
{
    int server_errors = 0;
    json_document doc;
    char error[64];
    if (!json_document_parse(&doc, c->x.response.data, c->x.response.len, RESULT_TOKENS, error,
                             sizeof(error)))
        return 0; /* nothing marked present: every id is sent again */
    json_iterator it = json_iterate(&doc, json_object_get(&doc, 0, "value"));
    int result;
    while (json_iterator_next(&it, &result)) {
        char *task_id = json_string_dup(&doc, json_object_get(&doc, result, "taskId"));
        long id = task_id ? id_of(s, task_id) : -1;
        free(task_id);
        if (id < 0)
            continue;
        int status = json_object_get(&doc, result, "status");
        int code = json_lookup(&doc, result, "error", "code", NULL);
        if (json_string_equals(&doc, status, "success")) {
            mark_present(s, id, false);
        } else if (json_string_equals(&doc, status, "clienterror") &&
                   json_string_equals(&doc, code, "TaskExists")) {
            mark_present(s, id, true);
        } else if (json_string_equals(&doc, status, "clienterror")) {
            batch_result r = {.status = 400};
            batch_error_read(&doc, json_object_get(&doc, result, "error"), &r);
            buffer what;
            buffer_init(&what, 0);
            buffer_appendf(&what, "Batch refused task %ld", id);
            fail(s, SUBMISSION_REFUSED, buffer_cstr(&what), &r);
            buffer_free(&what);
        } else { /* servererror: not marked, so sent again */
            s->last_server_error = (batch_result){.status = 500};
            batch_error_read(&doc, json_object_get(&doc, result, "error"), &s->last_server_error);
            server_errors++;
        }
    }
    json_document_free(&doc);
    return server_errors;
}

/* Tasks the service could not add this time: wait before they go again (the
 * other chunks wait too: the service is struggling), or give up once the
 * retry budget is spent. */
static void back_off_server_errors(submitter *s)
{
    uint64_t now = clock_monotonic_ms();
    if (s->server_error_rounds++ == 0)
        s->server_errors_since_ms = now;
    retry_policy policy = offloader_retry_policy(s->plan->config);
    int64_t delay = retry_delay_ms(&policy, s->server_error_rounds,
                                   now - s->server_errors_since_ms, -1);
    if (delay < 0) {
        s->last_server_error.gave_up = true;
        fail(s, SUBMISSION_AZURE_UNAVAILABLE, "adding tasks kept failing with server errors",
             &s->last_server_error);
        return;
    }
    clock_sleep_ms((uint64_t)delay, http_client_cancel_flag(s->b->http));
}

static void chunk_finished(void *context, http_exchange *x)
{
    submitter *s = context;
    chunk *c = x->user;
    batch_result r;
    batch_result_read(x, &r);
    if (x->status == 200) {
        if (read_results(s, c) > 0)
            back_off_server_errors(s);
        else
            s->server_error_rounds = 0;
    } else if (x->status == 413 && c->count > 1) {
        /* RequestBodyTooLarge: the same tasks again, in smaller chunks. */
        s->chunk_limit = c->count / 2;
    } else if (r.gave_up || x->status == 0) {
        fail(s, SUBMISSION_AZURE_UNAVAILABLE, "adding tasks failed", &r);
    } else if (x->status == 404 || x->status == 409) {
        fail(s, SUBMISSION_JOB_ENDED, "the Batch job ended while tasks were being added", &r);
    } else {
        fail(s, SUBMISSION_REFUSED, "Batch refused the task collection", &r);
    }
    for (size_t i = 0; i < c->count; i++) {
        s->in_flight[c->ids[i]] = 0;
        if (!s->present[c->ids[i]])
            s->resend[s->resend_count++] = c->ids[i];
    }
    uint64_t now = clock_monotonic_ms();
    if (now - s->last_report_ms >= 5000) {
        s->last_report_ms = now;
        log_info("submitting", LOG_NUM("tasks_in_job", s->stats->tasks_added +
                                                           s->stats->tasks_already_there),
                 LOG_NUM("tasks_total", s->total));
    }
    http_exchange_free(&c->x);
    free(c);
}

static void visit_existing(void *context, const char *task_id)
{
    submitter *s = context;
    long id = id_of(s, task_id);
    if (id >= 0)
        mark_present(s, id, true);
}

submission_outcome tasks_submit(batch_client *b, const job_plan *plan, bool existing_tasks,
                                submission_stats *stats, buffer *error)
{
    submitter s = {
        .b = b,
        .plan = plan,
        .workers = plan->completions,
        .total = plan->completions + (plan->has_aggregator ? 1 : 0),
        .chunk_limit = TASKS_PER_COLLECTION,
        .workers_pending = plan->completions,
        .outcome = SUBMISSION_DONE,
        .stats = stats,
        .error = error,
        .last_report_ms = clock_monotonic_ms(),
    };
    memset(stats, 0, sizeof(*stats));
    s.present = calloc((size_t)s.total, 1);
    s.in_flight = calloc((size_t)s.total, 1);
    s.resend = calloc((size_t)s.total + 1, sizeof(long));
    if (!s.present || !s.in_flight || !s.resend) {
        buffer_append_str(error, "out of memory");
        s.outcome = SUBMISSION_AZURE_UNAVAILABLE;
        goto done;
    }
    if (existing_tasks) {
        batch_result r;
        if (!batch_list_task_ids(b, visit_existing, &s, &r)) {
            s.outcome = SUBMISSION_CANCELLED;
            goto done;
        }
        if (!batch_result_ok(&r)) {
            fail(&s, r.gave_up || r.status == 0 ? SUBMISSION_AZURE_UNAVAILABLE
                                                : SUBMISSION_JOB_ENDED,
                 "listing the tasks already in the job failed", &r);
            goto done;
        }
    }
    http_feed feed = {next_chunk, chunk_finished, &s, CHUNKS_IN_FLIGHT};
    if (!http_client_run_feed(b->http, &feed))
        s.outcome = SUBMISSION_CANCELLED;
done:
    free(s.present);
    free(s.in_flight);
    free(s.resend);
    return s.outcome;
}
