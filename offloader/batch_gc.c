/* batch-offloader gc; see batch_gc.h.
 *
 * Each account's job list is read to its end first and acted on after, so
 * a delete cannot shift the pages being read. A job is only ever deleted on
 * evidence: its own metadata names a Job, and the API server answered for
 * that Job. */
#include "batch_gc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "entra_token.h"
#include "json_reader.h"
#include "kube_job_list.h"
#include "log.h"
#include "offload_contract.h"

#define RESULT_TOKENS 64
#define ORPHAN_REASON "batch-offload: the Kubernetes Job was deleted"

/* When the result annotation says it was recorded; false when it does not say. */
static bool recorded_at(const char *result, time_t *when)
{
    json_document doc;
    char error[64];
    if (!result || !json_document_parse(&doc, result, strlen(result), RESULT_TOKENS, error,
                                        sizeof(error)))
        return false;
    char *text = json_string_dup(&doc, json_object_get(&doc, 0, "recordedAt"));
    bool ok = clock_iso8601_parse(text, when);
    free(text);
    json_document_free(&doc);
    return ok;
}

/* Whether the job's metadata names a Job gc can ask about (and it is not
 * already on its way out). */
static bool names_a_job(const batch_job_summary *job)
{
    return job->namespace_name[0] && job->job_name[0] && job->job_uid[0] &&
           job->state != JOB_STATE_DELETING;
}

gc_verdict gc_judge(const batch_job_summary *job, const kube_job_state *state, time_t now,
                    long retention_seconds)
{
    if (!job->made_by_offloader || !names_a_job(job) || !state || !state->answered)
        return GC_LEAVE;
    if (!state->exists)
        return GC_ORPHANED;
    time_t when;
    if (!state->deleting && recorded_at(state->result, &when) && now - when > retention_seconds)
        return GC_EXPIRED;
    return GC_LEAVE;
}

typedef struct gc_pass {
    const gc_options *options;
    kube_client *kube;
    volatile sig_atomic_t *stop;
    long ours, deleted, left, unanswered, failed;
} gc_pass;

static void log_failure(const char *what, const batch_job_summary *job, const batch_result *r)
{
    buffer reason;
    buffer_init(&reason, 0);
    batch_result_describe(r, &reason);
    log_warn(what, LOG_STR("batch_job", job->id), LOG_STR("reason", buffer_cstr(&reason)));
    buffer_free(&reason);
}

/* Terminate (an orphan's tasks may still run) then delete; a job already
 * ending or gone is what was wanted. */
static bool remove_job(batch_client *b, const batch_job_summary *job, gc_verdict verdict)
{
    batch_result r;
    b->job_id = job->id;
    if (verdict == GC_ORPHANED && batch_job_is_live(job->state) &&
        batch_terminate_job(b, ORPHAN_REASON, &r) && !batch_result_ok(&r) && r.status != 404 && r.status != 409) {
        log_failure("could not terminate the Batch job", job, &r);
        return false;
    }
    if (!batch_delete_job(b, &r))
        return false;
    if (batch_result_ok(&r) || r.status == 404 || strcmp(r.code, "JobBeingDeleted") == 0)
        return true;
    log_failure("could not delete the Batch job", job, &r);
    return false;
}

/* A Batch job gc read, with what the API server said of its Job. */
typedef struct gc_entry {
    batch_job_summary job;
    kube_job_state state;
} gc_entry;

typedef struct job_list {
    gc_entry *entries;
    size_t count, capacity;
    bool out_of_memory;
} job_list;

/* Keeps the jobs batch-offload made; the others are never gc's. */
static void keep_job(void *context, const batch_job_summary *job)
{
    job_list *list = context;
    if (!job->made_by_offloader || list->out_of_memory)
        return;
    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? list->capacity * 2 : 64;
        gc_entry *grown = realloc(list->entries, capacity * sizeof(*grown));
        if (!grown) {
            list->out_of_memory = true;
            return;
        }
        list->entries = grown;
        list->capacity = capacity;
    }
    list->entries[list->count++] = (gc_entry){.job = *job};
}

static int by_namespace_and_name(const void *a, const void *b)
{
    const batch_job_summary *x = &((const gc_entry *)a)->job, *y = &((const gc_entry *)b)->job;
    int c = strcmp(x->namespace_name, y->namespace_name);
    return c ? c : strcmp(x->job_name, y->job_name);
}

/* The entries of one namespace, sorted by name, and the Job listed now. */
typedef struct namespace_jobs {
    gc_entry *first;
    size_t count;
} namespace_jobs;

/* A listed Job: every Batch job made for it (same name and uid) learns it lives. */
static void note_live_job(void *context, const kube_job_metadata *listed)
{
    namespace_jobs *ns = context;
    size_t lo = 0, hi = ns->count;
    while (lo < hi) { /* the first entry whose name is not below the listed one */
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(ns->first[mid].job.job_name, listed->name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < ns->count && strcmp(ns->first[i].job.job_name, listed->name) == 0;
         i++) {
        gc_entry *e = &ns->first[i];
        if (strcmp(e->job.job_uid, listed->uid) != 0 || e->state.exists)
            continue;
        e->state.exists = true;
        e->state.deleting = listed->deleting;
        e->state.result = listed->result ? strdup(listed->result) : NULL;
    }
}

/* One list of the namespace's Jobs answers for all its Batch jobs; a Job
 * not in it (or there with another uid) is gone. */
static void ask_namespace(gc_pass *pass, namespace_jobs *ns)
{
    char why[320] = "";
    bool answered = kube_job_list(pass->kube, ns->first->job.namespace_name, note_live_job, ns,
                                  why, sizeof(why));
    for (size_t i = 0; i < ns->count; i++)
        ns->first[i].state.answered = answered;
    if (!answered) {
        pass->unanswered += (long)ns->count;
        log_warn("cannot list the namespace's Jobs: its Batch jobs are left as they are",
                 LOG_STR("namespace", ns->first->job.namespace_name), LOG_STR("reason", why));
    }
}

static void collect_job(gc_pass *pass, batch_client *b, gc_entry *e)
{
    const batch_job_summary *job = &e->job;
    pass->ours++;
    gc_verdict verdict = gc_judge(job, &e->state, time(NULL),
                                  pass->options->retention_hours * 3600);
    if (verdict == GC_LEAVE) {
        pass->left++;
        return;
    }
    char kubernetes_job[320];
    snprintf(kubernetes_job, sizeof(kubernetes_job), "%s/%s", job->namespace_name,
             job->job_name);
    const char *why = verdict == GC_ORPHANED ? "its Kubernetes Job is gone"
                                             : "its Kubernetes Job finished past the retention";
    if (pass->options->dry_run) {
        log_info("would delete the Batch job (dry run)", LOG_STR("batch_job", job->id),
                 LOG_STR("kubernetes_job", kubernetes_job), LOG_STR("why", why));
        pass->deleted++;
        return;
    }
    if (!remove_job(b, job, verdict)) {
        pass->failed++;
        return;
    }
    log_info("deleted the Batch job", LOG_STR("batch_job", job->id),
             LOG_STR("kubernetes_job", kubernetes_job), LOG_STR("why", why));
    pass->deleted++;
}

/* One account: false when its jobs could not be listed. */
static bool collect_account(gc_pass *pass, batch_client *b)
{
    job_list list = {0};
    batch_result r;
    bool listed = batch_list_jobs(b, keep_job, &list, &r) && batch_result_ok(&r) &&
                  !list.out_of_memory;
    if (!listed && !*pass->stop) {
        buffer reason;
        buffer_init(&reason, 0);
        if (list.out_of_memory)
            buffer_append_str(&reason, "out of memory");
        else
            batch_result_describe(&r, &reason);
        log_error("cannot list the Batch account's jobs", LOG_STR("account", b->account->batch_url),
                  LOG_STR("reason", buffer_cstr(&reason)));
        buffer_free(&reason);
    }
    if (listed && list.count)
        qsort(list.entries, list.count, sizeof(*list.entries), by_namespace_and_name);
    for (size_t i = 0; listed && i < list.count && !*pass->stop;) {
        namespace_jobs ns = {.first = &list.entries[i], .count = 1};
        while (i + ns.count < list.count &&
               strcmp(list.entries[i + ns.count].job.namespace_name,
                      ns.first->job.namespace_name) == 0)
            ns.count++;
        if (ns.first->job.namespace_name[0])
            ask_namespace(pass, &ns);
        for (size_t j = 0; j < ns.count && !*pass->stop; j++)
            collect_job(pass, b, &ns.first[j]);
        i += ns.count;
    }
    for (size_t i = 0; i < list.count; i++)
        kube_job_state_free(&list.entries[i].state);
    free(list.entries);
    return listed;
}

int batch_gc_run(const offloader_config *config, const gc_options *options,
                 volatile sig_atomic_t *stop)
{
    gc_pass pass = {.options = options, .stop = stop};
    pass.kube = kube_client_in_cluster(config->serviceaccount_dir,
                                       "gc leaves every Batch job as it is");
    if (!pass.kube) {
        log_error("gc asks the Kubernetes API whether each Job still exists: run it in the "
                  "cluster (KUBERNETES_SERVICE_HOST is not set)");
        return OFFLOAD_EXIT_BAD_CONFIGURATION;
    }
    retry_policy policy = offloader_retry_policy(config);
    http_client *http = http_client_new(&policy, (volatile const int *)stop);
    entra_tokens *tokens = offloader_config_uses_entra(config)
                               ? entra_tokens_new(&config->entra, &policy,
                                                  (volatile const int *)stop)
                               : NULL;
    bool accounts_listed = http && (tokens || !offloader_config_uses_entra(config));
    const azure_account *accounts[] = {&config->primary,
                                       config->secondary.batch_url ? &config->secondary : NULL};
    for (size_t i = 0; accounts_listed && i < 2 && !*stop; i++) {
        if (!accounts[i])
            continue;
        batch_client b = {config, accounts[i], http, tokens, NULL};
        accounts_listed = collect_account(&pass, &b);
    }
    log_info(options->dry_run ? "gc dry run done: nothing was changed" : "gc done",
             LOG_NUM("batch_offload_jobs", pass.ours), LOG_NUM(options->dry_run ? "would_delete" : "deleted", pass.deleted),
             LOG_NUM("left", pass.left), LOG_NUM("unanswered", pass.unanswered),
             LOG_NUM("failed", pass.failed));
    entra_tokens_free(tokens);
    http_client_free(http);
    kube_client_free(pass.kube);
    if (*stop)
        return OFFLOAD_EXIT_TERMINATED;
    return accounts_listed && pass.unanswered == 0 && pass.failed == 0
               ? OFFLOAD_EXIT_SUCCEEDED
               : OFFLOAD_EXIT_AZURE_UNAVAILABLE;
}
