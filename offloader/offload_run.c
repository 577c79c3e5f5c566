/* The offloader's run; see offload_run.h. Reads top to bottom:
 * attach_or_create_job -> tasks_submit -> progress_follow -> report_failures
 * -> finish, with cancel() whenever a stop was requested. */
#include "offload_run.h"

#include <stdio.h>
#include <string.h>

#include "batch_client.h"
#include "batch_requests.h"
#include "clock.h"
#include "log.h"
#include "progress_monitor.h"
#include "task_submission.h"

#define STDERR_TAIL_BYTES 2048
#define FAILED_TASKS_SHOWN 5
#define FAILED_TASKS_LISTED 100
#define CLEANUP_BUDGET_MS 8000

typedef enum { JOB_NEW, JOB_ADOPTED, JOB_SUBMITTED, JOB_FINISHED } job_start;

static int exit_for(const batch_result *r)
{
    if (r->gave_up || r->status == 0 || r->status >= 500 || r->status == 429)
        return EXIT_AZURE_UNAVAILABLE;
    return EXIT_BAD_CONFIGURATION; /* 400 (a bad value), 403 (bad key), 404 (no such pool)... */
}

static void log_failure(const char *what, const batch_result *r)
{
    buffer text;
    buffer_init(&text, 0);
    batch_result_describe(r, &text);
    log_error(what, LOG_STR("reason", buffer_cstr(&text)));
    if (r->status == 403)
        log_error("check BATCHNAME and BATCHPASSWORD: the account refused the signature");
    buffer_free(&text);
}

/* Finds the job (a restarted offloader re-attaches to it) or creates it.
 * Returns an exit code on failure, -1 otherwise. */
static int attach_or_create_job(batch_client *b, const job_plan *plan, job_start *start)
{
    job_info job;
    batch_result r;
    if (!batch_get_job(b, &job, &r))
        return EXIT_TERMINATED;
    if (batch_result_ok(&r)) {
        if (job.state == JOB_STATE_COMPLETED || job.state == JOB_STATE_TERMINATING ||
            job.state == JOB_STATE_DELETING)
            *start = JOB_FINISHED;
        else
            *start = job.finishes_when_done ? JOB_SUBMITTED : JOB_ADOPTED;
        log_info("re-attached to the existing Batch job", LOG_STR("job", plan->config->job_id),
                 LOG_STR("state", *start == JOB_FINISHED ? "ended" : "active"));
        return -1;
    }
    if (r.status != 404) {
        log_failure("cannot read the Batch job", &r);
        return exit_for(&r);
    }
    buffer body;
    buffer_init(&body, 0);
    batch_job_create_body(plan, &body);
    bool finished = batch_create_job(b, &body, &r);
    buffer_free(&body);
    if (!finished)
        return EXIT_TERMINATED;
    if (r.status == 409 && strcmp(r.code, "JobExists") == 0) {
        *start = JOB_ADOPTED; /* a retried create that had gone through */
        return -1;
    }
    if (!batch_result_ok(&r)) {
        log_failure("cannot create the Batch job", &r);
        return exit_for(&r);
    }
    *start = JOB_NEW;
    return -1;
}

/* Adds the tasks and lets the job end itself once they are done. Returns an
 * exit code, or -1 to follow the job; *ended says the job ended already (a
 * task failed early and its exit action terminated the job): following it
 * then reports what failed. */
static int submit(batch_client *b, const job_plan *plan, job_start start, bool *ended)
{
    submission_stats stats;
    buffer error;
    buffer_init(&error, 4096);
    uint64_t began = clock_monotonic_ms();
    submission_outcome outcome = tasks_submit(b, plan, start == JOB_ADOPTED, &stats, &error);
    int code = -1;
    switch (outcome) {
    case SUBMISSION_DONE:
        log_info("tasks submitted", LOG_NUM("added", stats.tasks_added),
                 LOG_NUM("already_there", stats.tasks_already_there),
                 LOG_NUM("collection_requests", stats.collection_calls),
                 LOG_NUM("seconds", (double)(clock_monotonic_ms() - began) / 1000.0));
        break;
    case SUBMISSION_CANCELLED:
        code = EXIT_TERMINATED;
        break;
    case SUBMISSION_AZURE_UNAVAILABLE:
        log_error(buffer_cstr(&error));
        code = EXIT_AZURE_UNAVAILABLE;
        break;
    case SUBMISSION_REFUSED:
        log_error(buffer_cstr(&error));
        code = EXIT_BAD_CONFIGURATION;
        break;
    case SUBMISSION_JOB_ENDED:
        *ended = true;
        break;
    }
    buffer_free(&error);
    if (code >= 0 || *ended)
        return code;
    /* Every task is in: now the job may end itself when they are done. */
    buffer body;
    buffer_init(&body, 0);
    batch_job_finish_when_done_body(&body);
    batch_result r;
    bool finished = batch_update_job(b, &body, &r);
    buffer_free(&body);
    if (!finished)
        return EXIT_TERMINATED;
    if (r.status == 404 || r.status == 409) {
        *ended = true; /* JobCompleted, JobBeingTerminated: a task ended it */
    } else if (!batch_result_ok(&r)) {
        log_failure("cannot set the Batch job to end when its tasks are done", &r);
        return exit_for(&r);
    }
    return -1;
}

/* Tasks Batch ended because the job was terminated are not what failed. */
static bool ended_by_termination(const failed_task *t)
{
    return strcmp(t->failure_code, "TaskEnded") == 0;
}

static void report_failed_task(batch_client *b, const failed_task *t)
{
    char exit_code[32] = "none";
    if (t->has_exit_code)
        snprintf(exit_code, sizeof(exit_code), "%lld", (long long)t->exit_code);
    log_error("task failed", LOG_STR("task", t->id), LOG_STR("exit_code", exit_code),
              LOG_NUM("retries", t->retries), LOG_STR("failure", t->failure[0] ? t->failure : "none"));
    buffer tail;
    buffer_init(&tail, STDERR_TAIL_BYTES * 2);
    batch_result r;
    if (batch_task_file_tail(b, t->id, "stderr.txt", STDERR_TAIL_BYTES, &tail, &r) &&
        batch_result_ok(&r) && tail.len > 0) {
        while (tail.len > 0 && (tail.data[tail.len - 1] == '\n' || tail.data[tail.len - 1] == '\r'))
            tail.data[--tail.len] = '\0';
        char heading[128];
        snprintf(heading, sizeof(heading), "end of stderr.txt of task %.64s:", t->id);
        log_error(heading);
        log_error(buffer_cstr(&tail));
    }
    buffer_free(&tail);
}

/* The failed tasks, the ones that failed on their own first: exit code,
 * failure, and the end of their stderr. */
static void report_failures(batch_client *b)
{
    failed_task tasks[FAILED_TASKS_LISTED];
    size_t count = 0, shown = 0, ended = 0;
    batch_result r;
    if (!batch_list_failed_tasks(b, tasks, FAILED_TASKS_LISTED, &count, &r) ||
        !batch_result_ok(&r))
        return;
    for (size_t i = 0; i < count; i++) {
        if (ended_by_termination(&tasks[i]))
            ended++;
        else if (shown++ < FAILED_TASKS_SHOWN)
            report_failed_task(b, &tasks[i]);
    }
    if (shown == 0) /* nothing failed on its own: show what there is */
        for (size_t i = 0; i < count && i < FAILED_TASKS_SHOWN; i++)
            report_failed_task(b, &tasks[i]);
    else if (ended > 0)
        log_error("tasks ended when the Batch job was terminated", LOG_NUM("tasks", ended));
}

/* Once the work ended: the job goes away unless KEEPBATCHJOB asked to keep it. */
static void finish(batch_client *b, const job_plan *plan)
{
    if (plan->config->keep_batch_job) {
        log_info("keeping the Batch job (KEEPBATCHJOB=true)", LOG_STR("job", plan->config->job_id));
        return;
    }
    batch_result r;
    if (batch_delete_job(b, &r) && (batch_result_ok(&r) || r.status == 404))
        log_info("deleted the Batch job", LOG_STR("job", plan->config->job_id));
    else
        log_failure("could not delete the Batch job", &r);
}

/* Stop requested: the Batch job must not run on with nobody following it. */
static int cancel(const job_plan *plan, const offloader_config *config)
{
    retry_policy quick = {.max_attempts = 4, .base_delay_ms = 200, .max_delay_ms = 1000,
                          .budget_ms = CLEANUP_BUDGET_MS / 2};
    http_client *http = http_client_new(&quick, NULL);
    batch_client b = {config, http};
    batch_result r;
    log_info("stop requested: terminating the Batch job", LOG_STR("job", config->job_id));
    if (http && batch_terminate_job(&b, "batch-offload: the Kubernetes Job was stopped", &r) &&
        (batch_result_ok(&r) || r.status == 404 || r.status == 409))
        log_info("terminated the Batch job", LOG_STR("job", config->job_id));
    else
        log_failure("could not terminate the Batch job", &r);
    if (http)
        finish(&b, plan);
    http_client_free(http);
    return EXIT_TERMINATED;
}

static void describe_start(const job_plan *plan)
{
    const offloader_config *c = plan->config;
    char pool[160];
    if (c->pool_id)
        snprintf(pool, sizeof(pool), "pool %s", c->pool_id);
    else
        snprintf(pool, sizeof(pool), "an auto pool of up to %ld %s %s nodes", c->max_nodes,
                 plan->dedicated_nodes ? "dedicated" : "spot", c->vm_size);
    log_info("offloading to Azure Batch", LOG_STR("kubernetes_job", plan->display_name),
             LOG_STR("batch_job", c->job_id), LOG_NUM("workers", plan->completions),
             LOG_STR("aggregator", plan->has_aggregator ? c->aggregator_image : "none"),
             LOG_STR("on", pool));
}

/* Inputs must be there before a job exists, or its workers all fail. */
static int check_inputs(const job_plan *plan, http_client *http)
{
    if (!plan->storage.enabled)
        return -1;
    buffer why;
    buffer_init(&why, 0);
    int code = -1;
    switch (storage_check_inputs(&plan->storage, http, &why)) {
    case INPUTS_PRESENT:
        break;
    case INPUTS_MISSING:
    case INPUTS_REFUSED:
        log_error(buffer_cstr(&why));
        code = EXIT_BAD_CONFIGURATION;
        break;
    case INPUTS_UNREACHABLE:
        log_error(buffer_cstr(&why));
        code = EXIT_AZURE_UNAVAILABLE;
        break;
    case INPUTS_CANCELLED:
        code = EXIT_TERMINATED;
        break;
    }
    buffer_free(&why);
    return code;
}

/* Where the results and logs are, without signatures. */
static void print_locations(const job_plan *plan)
{
    if (!plan->storage.enabled)
        return;
    static const char *const parts[][2] = {{"outputs", "output/"},
                                           {"aggregate", "output/aggregate/"},
                                           {"logs", "logs/"}};
    for (size_t i = 0; i < 3; i++) {
        if (i == 1 && !plan->has_aggregator)
            continue;
        buffer where;
        buffer_init(&where, 0);
        storage_location(&plan->storage, parts[i][1], &where);
        log_info(parts[i][0], LOG_STR("at", buffer_cstr(&where)));
        buffer_free(&where);
    }
}

int offload_run(const job_plan *plan, volatile sig_atomic_t *stop)
{
    const offloader_config *c = plan->config;
    retry_policy policy = {.max_attempts = 12, .base_delay_ms = 500, .max_delay_ms = 30000,
                           .budget_ms = (uint64_t)c->retry_budget_seconds * 1000};
    http_client *http = http_client_new(&policy, stop);
    if (!http) {
        log_error("cannot start the HTTP client");
        return EXIT_AZURE_UNAVAILABLE;
    }
    batch_client b = {c, http};
    describe_start(plan);
    job_start start = JOB_NEW;
    int code = check_inputs(plan, http);
    if (code < 0)
        code = attach_or_create_job(&b, plan, &start);
    bool ended = start == JOB_FINISHED;
    if (code < 0 && (start == JOB_NEW || start == JOB_ADOPTED))
        code = submit(&b, plan, start, &ended);
    progress_report report;
    if (code < 0) {
        switch (progress_follow(&b, plan, ended, &report)) {
        case WORK_SUCCEEDED:
            log_info("all tasks succeeded", LOG_NUM("tasks", report.counts.succeeded),
                     LOG_NUM("polls", report.polls));
            code = EXIT_SUCCEEDED;
            break;
        case WORK_FAILED:
            log_error("the work failed", LOG_STR("reason", report.reason),
                      LOG_NUM("succeeded", report.counts.succeeded),
                      LOG_NUM("failed", report.counts.failed),
                      LOG_NUM("running", report.counts.running),
                      LOG_NUM("waiting", report.counts.active));
            report_failures(&b);
            code = EXIT_WORK_FAILED;
            break;
        case WORK_CANCELLED:
            code = EXIT_TERMINATED;
            break;
        case WORK_AZURE_UNAVAILABLE:
            log_error("Azure Batch did not answer usefully", LOG_STR("reason", report.reason));
            code = EXIT_AZURE_UNAVAILABLE;
            break;
        }
    }
    if (*stop)
        code = EXIT_TERMINATED;
    if (code == EXIT_SUCCEEDED || code == EXIT_WORK_FAILED) {
        if (code == EXIT_WORK_FAILED) { /* tasks may still run: stop them before leaving */
            batch_result r;
            batch_terminate_job(&b, "batch-offload: the work failed", &r);
        }
        print_locations(plan);
        finish(&b, plan);
    }
    http_client_free(http);
    return code == EXIT_TERMINATED ? cancel(plan, c) : code;
}
