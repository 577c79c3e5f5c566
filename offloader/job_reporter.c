/* Events and annotations on the Job; see job_reporter.h. */
#include "job_reporter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "json_reader.h"
#include "json_writer.h"
#include "log.h"
#include "offload_contract.h"

#define REPORTING_COMPONENT "batch-offload.io/offloader"
/* client-go's spam filter: a burst of 25 Events, then one every 5 minutes. */
#define EVENT_BURST 25
#define EVENT_REFILL_MS (5 * 60 * 1000)
#define PROGRESS_EVERY_MS 5000
#define KNOWN_EVENTS 32

/* An Event already created, counted again when it happens again. */
typedef struct sent_event {
    char reason[32];
    char message[1024]; /* a Spot shortage's cause and remedy fit; Events hold 1 kB */
    char name[128];
    unsigned count;
} sent_event;

struct job_reporter {
    kube_client *k;
    kube_job_ref ref;
    double tokens;
    uint64_t tokens_at_ms;
    unsigned sent;
    sent_event known[KNOWN_EVENTS];
    size_t known_count;
    char progress_said[160];
    char progress_pending[160];
    uint64_t progress_at_ms;
};

job_reporter *job_reporter_new(kube_client *k, const kube_job_ref *ref)
{
    job_reporter *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->k = ref->namespace_name && ref->name && ref->uid ? k : NULL; /* no Job to report on */
    r->ref = *ref;
    r->tokens = EVENT_BURST;
    r->tokens_at_ms = clock_monotonic_ms();
    return r;
}

void job_reporter_free(job_reporter *r)
{
    free(r);
}

unsigned job_reporter_events_sent(const job_reporter *r)
{
    return r ? r->sent : 0;
}

/* One token from the bucket, refilled one per EVENT_REFILL_MS. */
static bool take_token(job_reporter *r)
{
    uint64_t now = clock_monotonic_ms();
    r->tokens += (double)(now - r->tokens_at_ms) / EVENT_REFILL_MS;
    if (r->tokens > EVENT_BURST)
        r->tokens = EVENT_BURST;
    r->tokens_at_ms = now;
    if (r->tokens < 1)
        return false;
    r->tokens -= 1;
    return true;
}

static void now_text(char out[32])
{
    clock_iso8601(time(NULL), out);
}

/* POST a new Event; its name kept to count it again. */
static void create_event(job_reporter *r, sent_event *e, event_type type)
{
    char when[32];
    now_text(when);
    buffer body;
    buffer_init(&body, 0);
    json_writer w;
    json_writer_init(&w, &body);
    json_object_begin(&w);
    json_member_string(&w, "apiVersion", "v1");
    json_member_string(&w, "kind", "Event");
    json_key(&w, "metadata");
    json_object_begin(&w);
    char prefix[300];
    snprintf(prefix, sizeof(prefix), "%.250s.", r->ref.name);
    json_member_string(&w, "generateName", prefix);
    json_member_string(&w, "namespace", r->ref.namespace_name);
    json_object_end(&w);
    json_key(&w, "involvedObject");
    json_object_begin(&w);
    json_member_string(&w, "apiVersion", "batch/v1");
    json_member_string(&w, "kind", "Job");
    json_member_string(&w, "namespace", r->ref.namespace_name);
    json_member_string(&w, "name", r->ref.name);
    json_member_string(&w, "uid", r->ref.uid);
    json_object_end(&w);
    json_member_string(&w, "reason", e->reason);
    json_member_string(&w, "message", e->message);
    json_member_string(&w, "type", type == EVENT_WARNING ? "Warning" : "Normal");
    json_key(&w, "source");
    json_object_begin(&w);
    json_member_string(&w, "component", REPORTING_COMPONENT);
    json_object_end(&w);
    json_member_string(&w, "reportingComponent", REPORTING_COMPONENT);
    json_member_string(&w, "reportingInstance",
                       r->ref.pod_name && r->ref.pod_name[0] ? r->ref.pod_name : "offloader");
    json_member_string(&w, "firstTimestamp", when);
    json_member_string(&w, "lastTimestamp", when);
    json_member_int(&w, "count", 1);
    json_object_end(&w);
    buffer path;
    buffer_init(&path, 0);
    buffer_append_str(&path, "/api/v1/namespaces/");
    kube_path_append(&path, r->ref.namespace_name);
    buffer_append_str(&path, "/events");
    kube_answer a;
    kube_answer_init(&a);
    if (json_writer_finish(&w))
        kube_request(r->k, "POST", buffer_cstr(&path), "application/json", &body, &a);
    json_document doc;
    char error[64];
    if (a.status == 201 && json_document_parse(&doc, a.body.data, a.body.len, 65536, error,
                                               sizeof(error))) {
        char *name = json_string_dup(&doc, json_lookup(&doc, 0, "metadata", "name", NULL));
        snprintf(e->name, sizeof(e->name), "%s", name ? name : "");
        free(name);
        json_document_free(&doc);
        r->sent++;
    }
    kube_answer_free(&a);
    buffer_free(&path);
    buffer_free(&body);
}

/* The same Event again: its count and last time moved on. */
static void count_event(job_reporter *r, sent_event *e)
{
    char when[32];
    now_text(when);
    buffer body;
    buffer_init(&body, 0);
    buffer_append_str(&body, "{\"count\":");
    buffer_append_uint(&body, e->count);
    buffer_append_str(&body, ",\"lastTimestamp\":\"");
    buffer_append_str(&body, when);
    buffer_append_str(&body, "\"}");
    buffer path;
    buffer_init(&path, 0);
    buffer_append_str(&path, "/api/v1/namespaces/");
    kube_path_append(&path, r->ref.namespace_name);
    buffer_append_str(&path, "/events/");
    kube_path_append(&path, e->name);
    kube_answer a;
    kube_answer_init(&a);
    kube_request(r->k, "PATCH", buffer_cstr(&path), "application/merge-patch+json", &body, &a);
    if (a.status == 200)
        r->sent++;
    kube_answer_free(&a);
    buffer_free(&path);
    buffer_free(&body);
}

/* Events and progress can wait: not while the API server does not answer. */
static bool can_tell(const job_reporter *r)
{
    return r && r->k && kube_client_worth_asking(r->k);
}

void job_reporter_event(job_reporter *r, event_type type, const char *reason,
                        const char *message)
{
    if (!can_tell(r) || !take_token(r))
        return;
    sent_event *e = NULL;
    for (size_t i = 0; i < r->known_count && !e; i++)
        if (strcmp(r->known[i].reason, reason) == 0 &&
            strncmp(r->known[i].message, message, sizeof(r->known[i].message) - 1) == 0)
            e = &r->known[i];
    if (e && e->name[0]) {
        e->count++;
        count_event(r, e);
        return;
    }
    sent_event fresh = {.count = 1};
    snprintf(fresh.reason, sizeof(fresh.reason), "%s", reason);
    snprintf(fresh.message, sizeof(fresh.message), "%s", message);
    if (!e) {
        if (r->known_count == KNOWN_EVENTS) /* forget the oldest */
            memmove(&r->known[0], &r->known[1], sizeof(r->known[0]) * (KNOWN_EVENTS - 1));
        else
            r->known_count++;
        e = &r->known[r->known_count - 1];
    }
    *e = fresh;
    create_event(r, e, type);
}

static void annotate(job_reporter *r, const char *key, const char *value)
{
    const char *keys[] = {key};
    const char *values[] = {value};
    kube_job_annotate(r->k, &r->ref, keys, values, 1);
}

void job_reporter_progress(job_reporter *r, int64_t succeeded, int64_t failed, int64_t running,
                           int64_t waiting, long total, bool final)
{
    if (!can_tell(r))
        return;
    snprintf(r->progress_pending, sizeof(r->progress_pending),
             "%lld succeeded, %lld failed, %lld running, %lld waiting of %ld",
             (long long)succeeded, (long long)failed, (long long)running, (long long)waiting,
             total);
    uint64_t now = clock_monotonic_ms();
    if (strcmp(r->progress_pending, r->progress_said) == 0)
        return;
    if (!final && r->progress_at_ms && now - r->progress_at_ms < PROGRESS_EVERY_MS)
        return; /* said at the next change past the interval, or at the end */
    annotate(r, OFFLOAD_ANNOTATION_PROGRESS, r->progress_pending);
    snprintf(r->progress_said, sizeof(r->progress_said), "%s", r->progress_pending);
    r->progress_at_ms = now;
}

void job_reporter_batch_job(job_reporter *r, const char *job_id, const char *account_url)
{
    if (!can_tell(r))
        return;
    char value[512];
    snprintf(value, sizeof(value), "%s at %s", job_id, account_url);
    annotate(r, OFFLOAD_ANNOTATION_BATCH_JOB, value);
}

bool job_reporter_result(job_reporter *r, const char *outcome, int exit_code,
                         const char *batch_job, long tasks, int64_t succeeded, int64_t failed,
                         const char *reason)
{
    if (!r || !r->k)
        return false;
    char when[32];
    now_text(when);
    buffer value;
    buffer_init(&value, 0);
    json_writer w;
    json_writer_init(&w, &value);
    json_object_begin(&w);
    json_member_string(&w, "outcome", outcome);
    json_member_int(&w, "exitCode", exit_code);
    json_member_string(&w, "batchJob", batch_job);
    json_member_int(&w, "tasks", tasks);
    json_member_int(&w, "succeeded", succeeded);
    json_member_int(&w, "failed", failed);
    json_member_string(&w, "recordedAt", when);
    json_member_string(&w, "reason", reason);
    json_object_end(&w);
    bool ok = json_writer_finish(&w);
    if (ok) {
        const char *keys[] = {OFFLOAD_ANNOTATION_RESULT};
        const char *values[] = {buffer_cstr(&value)};
        ok = kube_job_annotate(r->k, &r->ref, keys, values, 1);
    }
    buffer_free(&value);
    return ok;
}
