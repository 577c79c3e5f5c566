/* The offloader's run; see offload_run.h. Reads top to bottom:
 *   recorded     a result an earlier pod left on the Kubernetes Job: nothing to run
 *   locate_job   the job in the primary or the secondary account, if it exists
 *   place_job    else: its pool checked (preflight.h), storage and inputs, then create
 *                it (fail over, or wait on quota)
 *   submit       add the missing tasks, then let the job end itself
 *   follow       progress until the end; failures reported; a pool that can never
 *                run the tasks (gone, a VM size refused) ends the job, exit 2
 *   finish       the result recorded on the Job; the Batch job deleted unless kept
 * and stopped() whenever a stop was requested: it asks the API server why
 * (docs/KUBERNETES.md) and terminates, disables or leaves the Batch job.
 *
 * Longer than most files here (about 900 lines) on purpose: every phase reads
 * and sets the same run (the job's account, whether the primary was seen, the
 * Kubernetes Job), and a stop can come in any of them; split, that state would
 * travel through a header every phase writes to. What a phase asks of Batch or
 * Kubernetes is in the modules it calls (preflight, task_submission,
 * progress_monitor, kube_job, job_reporter). */
#include "offload_run.h"

#include <stdio.h>
#include <string.h>

#include "batch_client.h"
#include "batch_requests.h"
#include "clock.h"
#include "failure_report.h"
#include "job_reporter.h"
#include "json_reader.h"
#include "kube_job.h"
#include "log.h"
#include "preflight.h"
#include "progress_monitor.h"
#include "task_submission.h"

#define CLEANUP_BUDGET_MS 8000
#define QUOTA_FIRST_WAIT_MS 30000

/* What the run finds: no job, one to add tasks to, one that has them all, one that
 * ended, one an earlier offloader cancelled. */
typedef enum { JOB_NEW, JOB_ADOPTED, JOB_SUBMITTED, JOB_FINISHED, JOB_CANCELLED } job_start;

typedef struct run {
    job_plan *plan;
    const offloader_config *config;
    volatile sig_atomic_t *stop;
    http_client *http;
    entra_tokens *tokens;        /* NULL with Shared Key */
    batch_client primary;
    batch_client secondary;      /* .account NULL when there is none */
    batch_client *active;        /* where the job is */
    bool primary_unreachable;    /* the job may be there unseen: checked again at the end */
    bool found_without_inputs;   /* the job found was created without input blobs */
    kube_client *kube;           /* NULL outside a cluster */
    kube_job_ref job_ref;        /* the Kubernetes Job this run works for */
    job_reporter *reporter;      /* Events and annotations on it */
} run;

/* An earlier offloader cancelled the job: its terminate reason when the
 * Kubernetes Job was deleted ("... was stopped" before it asked why). */
#define CANCELLATION_PREFIX "batch-offload: the Kubernetes Job was "

static int exit_for(const batch_result *r)
{
    if (batch_result_outage(r))
        return OFFLOAD_EXIT_AZURE_UNAVAILABLE;
    /* 400 (a bad value), 403 (a bad key), 404 (no such pool)... */
    return OFFLOAD_EXIT_BAD_CONFIGURATION;
}

static bool unreachable(const batch_result *r)
{
    return exit_for(r) == OFFLOAD_EXIT_AZURE_UNAVAILABLE;
}

static void log_failure(const char *what, const batch_client *b, const batch_result *r)
{
    buffer text;
    buffer_init(&text, 0);
    batch_result_describe(r, &text);
    log_error(what, LOG_STR("account", b->account->label), LOG_STR("reason", buffer_cstr(&text)));
    if (r->status == 401 || r->status == 403)
        log_error(b->tokens ? "the Batch account refused the Entra ID token: does the identity "
                              "have a Batch data-plane role (Azure Batch Data Contributor)?"
                            : "check BATCHNAME and BATCHPASSWORD: the account refused the "
                              "signature");
    buffer_free(&text);
}

/* ---- where the job is ------------------------------------------------ */

/* The job was terminated by an earlier offloader's cancellation (a deleted
 * Job): there is nothing to follow, and its tasks did not fail on their own.
 * The work did not complete, so the Job fails (exit 1), saying why. */
static void say_cancelled(run *r, batch_client *b, const job_info *job)
{
    char message[256];
    snprintf(message, sizeof(message), "the Batch job %s was cancelled by an earlier offloader "
             "(%s): nothing to run", r->config->job_id, job->terminate_reason);
    log_error(message, LOG_STR("account", b->account->label));
    job_reporter_event(r->reporter, EVENT_WARNING, "Cancelled", message);
}

/* How long a job still disabling (its Job suspended and resumed at once) is
 * waited for: Batch refuses to enable it (409) until it is disabled. */
#define DISABLING_WAIT_MS 30000
#define DISABLING_POLL_MS 1000

/* Whether a 409 to enable means it is enabled already (active, enabling),
 * not that it is still on its way to disabled. */
static bool enabled_already(batch_client *b)
{
    job_info job;
    batch_result res;
    return batch_get_job(b, &job, &res) && batch_result_ok(&res) &&
           job.state != JOB_STATE_DISABLING && job.state != JOB_STATE_DISABLED;
}

/* One enable: true when the job is enabled; *still_disabling when Batch
 * refused it only because the job is not disabled yet. */
static bool enable(batch_client *b, batch_result *res, bool *still_disabling)
{
    *still_disabling = false;
    if (!batch_enable_job(b, res))
        return false;
    if (batch_result_ok(res))
        return true;
    if (res->status != 409)
        return false;
    if (enabled_already(b))
        return true;
    *still_disabling = true;
    return false;
}

/* A disabled job (its Job was suspended) whose Job runs again: enabled. */
static void resume(run *r, batch_client *b)
{
    batch_result res;
    bool still_disabling;
    bool enabled = enable(b, &res, &still_disabling);
    volatile const int *stop = http_client_cancel_flag(b->http);
    for (uint64_t waited = 0; !enabled && still_disabling && waited < DISABLING_WAIT_MS &&
                              !(stop && *stop);
         waited += DISABLING_POLL_MS) {
        clock_sleep_ms(DISABLING_POLL_MS, stop);
        enabled = enable(b, &res, &still_disabling);
    }
    if (enabled) {
        log_info("the Kubernetes Job was resumed: enabled the Batch job",
                 LOG_STR("job", r->config->job_id));
        job_reporter_event(r->reporter, EVENT_NORMAL, "Resumed",
                           "the Job was resumed: the Batch job was enabled");
    } else {
        log_failure("cannot enable the Batch job", b, &res);
    }
}

/* Asks one account for the job: 1 found, 0 not there, -1 could not tell
 * (unreachable), or an exit code >= 2 for a refusal. */
static int ask_for_job(run *r, batch_client *b, job_start *start, bool *without_inputs)
{
    job_info job;
    batch_result res;
    if (!batch_get_job(b, &job, &res))
        return OFFLOAD_EXIT_TERMINATED;
    if (batch_result_ok(&res)) {
        *without_inputs = job.without_inputs;
        if (job.state == JOB_STATE_COMPLETED || job.state == JOB_STATE_TERMINATING ||
            job.state == JOB_STATE_DELETING) {
            bool cancelled = strncmp(job.terminate_reason, CANCELLATION_PREFIX,
                                     strlen(CANCELLATION_PREFIX)) == 0;
            if (cancelled)
                say_cancelled(r, b, &job);
            *start = cancelled ? JOB_CANCELLED : JOB_FINISHED;
        } else {
            *start = job.finishes_when_done ? JOB_SUBMITTED : JOB_ADOPTED;
            if (job.state == JOB_STATE_DISABLED || job.state == JOB_STATE_DISABLING)
                resume(r, b);
        }
        return 1;
    }
    if (res.status == 404)
        return 0;
    if (unreachable(&res)) {
        log_failure("cannot reach the Batch account", b, &res);
        return -1;
    }
    log_failure("cannot read the Batch job", b, &res);
    return exit_for(&res);
}

/* The same work must not run in two accounts: a copy in the secondary while
 * the primary holds the job is terminated and deleted. */
static void remove_copy(batch_client *b, const char *why)
{
    batch_result res;
    log_warn("removing a copy of the job from the other Batch account",
             LOG_STR("account", b->account->label), LOG_STR("why", why));
    batch_terminate_job(b, "batch-offload: a copy of this job runs in another account", &res);
    batch_delete_job(b, &res);
}

/* Finds the job in either account. Returns an exit code, or -1 with
 * r->active set when found (or NULL when it is nowhere). */
static int locate_job(run *r, job_start *start)
{
    r->active = NULL;
    int in_primary = ask_for_job(r, &r->primary, start, &r->found_without_inputs);
    if (in_primary >= 2)
        return in_primary;
    r->primary_unreachable = in_primary < 0;
    if (in_primary == 1)
        r->active = &r->primary;
    if (r->secondary.account) {
        job_start secondary_start;
        bool secondary_without_inputs = false;
        int in_secondary = ask_for_job(r, &r->secondary, &secondary_start,
                                       &secondary_without_inputs);
        if (in_secondary == OFFLOAD_EXIT_TERMINATED)
            return OFFLOAD_EXIT_TERMINATED;
        if (in_secondary == 1 && r->active)
            remove_copy(&r->secondary, "the primary account holds the job");
        else if (in_secondary == 1) {
            r->active = &r->secondary;
            *start = secondary_start;
            r->found_without_inputs = secondary_without_inputs;
        }
    }
    if (r->active) {
        log_info("re-attached to the existing Batch job",
                 LOG_STR("account", r->active->account->label),
                 LOG_STR("job", r->config->job_id),
                 LOG_STR("state", *start == JOB_FINISHED ? "ended" : "active"));
        char message[320];
        snprintf(message, sizeof(message), "re-attached to Batch job %s in account %s",
                 r->config->job_id, r->active->account->batch_url);
        job_reporter_event(r->reporter, EVENT_NORMAL, "ReAttached", message);
    }
    return -1;
}

/* ---- placing a new job ------------------------------------------------ */

/* SAS for the account's storage: with its key, or from Entra ID. */
static int prepare_storage(run *r, batch_client *b)
{
    job_plan *plan = r->plan;
    storage_plan_layout(&plan->storage, r->config, b->account);
    buffer errors;
    buffer_init(&errors, 0);
    bool ok = r->tokens ? storage_plan_sign_with_identity(&plan->storage, r->config, b->account,
                                                          plan->max_wall_clock_seconds, r->http,
                                                          r->tokens, &errors)
                        : storage_plan_sign_with_key(&plan->storage, r->config, b->account,
                                                     plan->max_wall_clock_seconds, &errors);
    if (!ok)
        log_error("cannot prepare storage access", LOG_STR("account", b->account->label),
                  LOG_STR("reason", buffer_cstr(&errors)));
    buffer_free(&errors);
    return ok ? -1 : (*r->stop ? OFFLOAD_EXIT_TERMINATED : OFFLOAD_EXIT_BAD_CONFIGURATION);
}

/* Before a job exists: a SAS the nodes could not use fails here, not on
 * every worker; no input blobs is a Job without inputs unless INPUTS says
 * they are required. */
static int check_inputs(run *r)
{
    storage_plan *storage = &r->plan->storage;
    if (!storage->enabled)
        return -1;
    buffer why;
    buffer_init(&why, 0);
    int code = -1;
    switch (storage_check_inputs(storage, r->http, &why)) {
    case INPUTS_PRESENT:
        break;
    case INPUTS_MISSING:
        if (r->config->inputs_required) {
            buffer_append_str(&why, ": upload the inputs there first (" OFFLOAD_ENV_INPUTS
                                    "=required)");
            log_error(buffer_cstr(&why));
            code = OFFLOAD_EXIT_BAD_CONFIGURATION;
        } else {
            buffer where;
            buffer_init(&where, 0);
            storage_input_location(storage, &where);
            log_info("no input blobs: the tasks run without input files",
                     LOG_STR("under", buffer_cstr(&where)));
            buffer_free(&where);
            storage->has_inputs = false;
        }
        break;
    case INPUTS_NO_CONTAINER:
    case INPUTS_REFUSED:
        log_error(buffer_cstr(&why));
        code = OFFLOAD_EXIT_BAD_CONFIGURATION;
        break;
    case INPUTS_UNREACHABLE:
        log_error(buffer_cstr(&why));
        code = OFFLOAD_EXIT_AZURE_UNAVAILABLE;
        break;
    case INPUTS_CANCELLED:
        code = OFFLOAD_EXIT_TERMINATED;
        break;
    }
    buffer_free(&why);
    return code;
}

/* The account is full for now: its job quota or its pool quota. */
static bool quota_refusal(const batch_result *res)
{
    return res->status == 409 && (strcmp(res->code, "ActiveJobAndScheduleQuotaReached") == 0 ||
                                  strcmp(res->code, "PoolQuotaReached") == 0);
}

/* Before the job exists in b's account (preflight.h): its pool is there and runs
 * containers, or its auto pool's image is one Batch supports. -1: go on; else an
 * exit code. A refusal is bad configuration, said on the log and the Job. */
static int check_before_creating(run *r, batch_client *b)
{
    buffer why;
    buffer_init(&why, 0);
    int code = -1;
    switch (preflight_check(b, r->plan, &why)) {
    case PREFLIGHT_PASSED:
        break;
    case PREFLIGHT_REFUSED:
        log_error(buffer_cstr(&why), LOG_STR("account", b->account->label));
        job_reporter_event(r->reporter, EVENT_WARNING, "BadConfiguration", buffer_cstr(&why));
        code = OFFLOAD_EXIT_BAD_CONFIGURATION;
        break;
    case PREFLIGHT_UNAVAILABLE:
        log_error(buffer_cstr(&why), LOG_STR("account", b->account->label));
        code = OFFLOAD_EXIT_AZURE_UNAVAILABLE;
        break;
    case PREFLIGHT_CANCELLED:
        code = OFFLOAD_EXIT_TERMINATED;
        break;
    }
    buffer_free(&why);
    return code;
}

/* Creates the job where it should go, once the account can run it. Fails over
 * to the secondary account when the primary could not be reached or refused on
 * quota; without a secondary, waits for the quota with growing pauses. A create
 * that got no answer is never repeated elsewhere: it may have gone through (a
 * pre-flight read that got none may be). */
static int place_job(run *r)
{
    batch_client *target = &r->primary;
    if (r->primary_unreachable) {
        if (!r->secondary.account)
            return OFFLOAD_EXIT_AZURE_UNAVAILABLE;
        log_warn("the primary Batch account cannot be reached: submitting to the secondary",
                 LOG_STR("secondary", r->secondary.account->batch_url));
        target = &r->secondary;
    }
    uint64_t cap = (uint64_t)r->config->quota_wait_seconds * 1000;
    uint64_t wait_ms = QUOTA_FIRST_WAIT_MS < cap ? QUOTA_FIRST_WAIT_MS : cap;
    batch_client *checked = NULL; /* the account the pre-flight passed in */
    for (;;) {
        if (checked != target) {
            int verdict = check_before_creating(r, target);
            if (verdict == OFFLOAD_EXIT_AZURE_UNAVAILABLE && target == &r->primary &&
                r->secondary.account) {
                log_warn("the primary Batch account cannot be reached: submitting to the "
                         "secondary", LOG_STR("secondary", r->secondary.account->batch_url));
                target = &r->secondary;
                continue;
            }
            if (verdict >= 0)
                return verdict;
            checked = target;
        }
        int code = prepare_storage(r, target);
        if (code < 0)
            code = check_inputs(r);
        if (code >= 0)
            return code;
        buffer body;
        buffer_init(&body, 0);
        batch_job_create_body(r->plan, &body);
        batch_result res;
        bool finished = batch_create_job(target, &body, &res);
        buffer_free(&body);
        if (!finished)
            return OFFLOAD_EXIT_TERMINATED;
        if (batch_result_ok(&res) || (res.status == 409 && strcmp(res.code, "JobExists") == 0)) {
            r->active = target;
            return -1;
        }
        if (!quota_refusal(&res)) {
            log_failure("cannot create the Batch job", target, &res);
            return exit_for(&res);
        }
        if (target == &r->primary && r->secondary.account) {
            log_warn("the primary Batch account refused the job for its quota: submitting to "
                     "the secondary", LOG_STR("code", res.code),
                     LOG_STR("secondary", r->secondary.account->batch_url));
            target = &r->secondary;
            continue;
        }
        char message[200];
        snprintf(message, sizeof(message),
                 "the %s Batch account is at its quota; waiting %llu s before trying again",
                 target->account->label, (unsigned long long)(wait_ms / 1000));
        log_warn(message, LOG_STR("code", res.code), LOG_STR("detail", res.message));
        clock_sleep_ms(wait_ms, (volatile const int *)r->stop);
        if (*r->stop)
            return OFFLOAD_EXIT_TERMINATED;
        wait_ms = wait_ms * 2 > cap ? cap : wait_ms * 2;
    }
}

/* ---- tasks and progress ------------------------------------------------ */

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
        code = OFFLOAD_EXIT_TERMINATED;
        break;
    case SUBMISSION_AZURE_UNAVAILABLE:
        log_error(buffer_cstr(&error));
        code = OFFLOAD_EXIT_AZURE_UNAVAILABLE;
        break;
    case SUBMISSION_REFUSED:
        log_error(buffer_cstr(&error));
        code = OFFLOAD_EXIT_BAD_CONFIGURATION;
        break;
    case SUBMISSION_JOB_ENDED:
        *ended = true;
        break;
    }
    buffer_free(&error);
    if (code >= 0 || *ended)
        return code;
    buffer body;
    buffer_init(&body, 0);
    batch_job_finish_when_done_body(&body);
    batch_result r;
    bool finished = batch_update_job(b, &body, &r);
    buffer_free(&body);
    if (!finished)
        return OFFLOAD_EXIT_TERMINATED;
    if (r.status == 404 || r.status == 409) {
        *ended = true; /* JobCompleted, JobBeingTerminated: a task ended it */
    } else if (!batch_result_ok(&r)) {
        log_failure("cannot set the Batch job to end when its tasks are done", b, &r);
        return exit_for(&r);
    }
    return -1;
}

static int follow(batch_client *b, const job_plan *plan, bool ended, job_reporter *reporter,
                  progress_report *report_out)
{
    progress_report report;
    int code = OFFLOAD_EXIT_AZURE_UNAVAILABLE;
    switch (progress_follow(b, plan, ended, reporter, &report)) {
    case WORK_SUCCEEDED:
        log_info("all tasks succeeded", LOG_NUM("tasks", report.counts.succeeded),
                 LOG_NUM("polls", report.polls));
        snprintf(report.reason, sizeof(report.reason), "all %lld tasks succeeded",
                 (long long)report.counts.succeeded);
        code = OFFLOAD_EXIT_SUCCEEDED;
        break;
    case WORK_FAILED:
        log_error("the work failed", LOG_STR("reason", report.reason),
                  LOG_NUM("succeeded", report.counts.succeeded),
                  LOG_NUM("failed", report.counts.failed),
                  LOG_NUM("running", report.counts.running),
                  LOG_NUM("waiting", report.counts.active));
        failure_report_print(b, reporter);
        code = OFFLOAD_EXIT_WORK_FAILED;
        break;
    case WORK_REFUSED: /* said where it was found: the log line and the Event */
        code = OFFLOAD_EXIT_BAD_CONFIGURATION;
        break;
    case WORK_CANCELLED:
        code = OFFLOAD_EXIT_TERMINATED;
        break;
    case WORK_AZURE_UNAVAILABLE:
        log_error("Azure Batch did not answer usefully", LOG_STR("reason", report.reason));
        break;
    }
    *report_out = report;
    return code;
}

/* ---- the end ---------------------------------------------------------- */

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

/* Once the work ended: the job goes away unless KEEPBATCHJOB asked to keep it. */
static void finish(batch_client *b, const job_plan *plan)
{
    if (plan->config->keep_batch_job) {
        log_info("keeping the Batch job (KEEPBATCHJOB=true)", LOG_STR("job", plan->config->job_id));
        return;
    }
    batch_result r;
    /* JobBeingDeleted: an earlier attempt whose answer was lost went through. */
    if (batch_delete_job(b, &r) &&
        (batch_result_ok(&r) || r.status == 404 ||
         (r.status == 409 && strcmp(r.code, "JobBeingDeleted") == 0)))
        log_info("deleted the Batch job", LOG_STR("job", plan->config->job_id));
    else
        log_failure("could not delete the Batch job", b, &r);
}

/* The job ran in the secondary because the primary could not be asked: if
 * the primary answers now and holds the job (an earlier offloader created
 * it before the outage), that copy must not run on unattended. */
static void guard_primary(run *r)
{
    if (!r->primary_unreachable || r->active != &r->secondary)
        return;
    job_info job;
    batch_result res;
    if (batch_get_job(&r->primary, &job, &res) && batch_result_ok(&res))
        remove_copy(&r->primary, "the job ran in the secondary account");
}

/* The job must not run on: its tasks stopped, then the job deleted unless
 * KEEPBATCHJOB keeps it for a look. */
static void end_job(batch_client *b, const job_plan *plan, const char *reason)
{
    batch_result res;
    if (batch_terminate_job(b, reason, &res) &&
        (batch_result_ok(&res) || res.status == 404 || res.status == 409))
        log_info("terminated the Batch job", LOG_STR("job", plan->config->job_id));
    else
        log_failure("could not terminate the Batch job", b, &res);
    finish(b, plan);
}

/* ---- a stop --------------------------------------------------------------- */

/* The run's own client gives up at once once stop is set: what is left to
 * say to Batch after a stop goes through a short one of its own. */
static bool after_stop_client(run *r, batch_client *b, http_client **http)
{
    retry_policy quick = {.max_attempts = 4, .base_delay_ms = 200, .max_delay_ms = 1000,
                          .budget_ms = CLEANUP_BUDGET_MS / 2};
    *http = http_client_new(&quick, NULL);
    if (!*http) {
        log_error("cannot start the HTTP client: the Batch job is left as it is",
                  LOG_STR("job", r->config->job_id));
        return false;
    }
    *b = *r->active;
    b->http = *http;
    return true;
}

/* The Kubernetes Job is gone, or ended without this pod: the Batch job must
 * not run on unattended. reason goes on the Batch job, message on the Job. */
static int cancel(run *r, const char *why, const char *reason, const char *message)
{
    batch_client b;
    http_client *http;
    log_info("stop requested: terminating the Batch job", LOG_STR("job", r->config->job_id),
             LOG_STR("why", why));
    if (after_stop_client(r, &b, &http)) {
        end_job(&b, r->plan, reason);
        job_reporter_event(r->reporter, EVENT_NORMAL, "Cancelled", message);
    }
    http_client_free(http);
    return OFFLOAD_EXIT_TERMINATED;
}

#define DELETED_REASON "batch-offload: the Kubernetes Job was deleted"
#define DELETED_MESSAGE "the Job was deleted: the Batch job was terminated"

/* The Kubernetes Job is suspended: nothing new starts, running tasks go back
 * to the queue; the pod of the resumed Job enables it again. */
static int suspend(run *r)
{
    batch_client b;
    http_client *http;
    if (after_stop_client(r, &b, &http)) {
        batch_result res;
        if (batch_disable_job(&b, &res) && (batch_result_ok(&res) || res.status == 409)) {
            log_info("the Kubernetes Job was suspended: disabled the Batch job",
                     LOG_STR("job", r->config->job_id));
            job_reporter_event(r->reporter, EVENT_NORMAL, "Suspended",
                               "the Job was suspended: the Batch job was disabled");
        } else {
            log_failure("cannot disable the Batch job", &b, &res);
        }
    }
    http_client_free(http);
    return OFFLOAD_EXIT_TERMINATED;
}

/* What the API server says of the Job and the pod when a stop came. */
typedef enum { STOP_UNEXPLAINED, STOP_NO_ANSWER, STOP_DELETED, STOP_ENDED, STOP_SUSPENDED,
               STOP_DISRUPTED } stop_cause;

static stop_cause ask_why(run *r, char *ended_reason, size_t size)
{
    kube_job_state job;
    stop_cause cause = STOP_UNEXPLAINED;
    if (!kube_job_read(r->kube, &r->job_ref, &job))
        cause = STOP_NO_ANSWER;
    else if (!job.exists || job.deleting)
        cause = STOP_DELETED;
    else if (job.ended)
        cause = STOP_ENDED;
    else if (job.suspended)
        cause = STOP_SUSPENDED;
    else if (kube_pod_disrupted(r->kube, &r->job_ref))
        cause = STOP_DISRUPTED;
    snprintf(ended_reason, size, "%s", job.ended_reason);
    kube_job_state_free(&job);
    return cause;
}

/* The Job controller stops the pods of a Job it ends (its deadline passed)
 * before it writes the condition that says so: an unexplained stop is
 * looked at again for this long before it counts as one. */
#define STOP_LOOKS 4
#define STOP_LOOK_INTERVAL_MS 1000

/* SIGTERM: why? Outside a cluster a stop is a stop. In one, the API server
 * tells: the Job deleted (or another Job of that name), or ended by its
 * controller (its deadline) -> terminate; suspended -> disable; anything
 * else (an eviction, a drain, a preemption, or no answer) -> leave the Batch
 * job running for the replacement pod. */
static int stopped(run *r)
{
    if (!r->active)
        return OFFLOAD_EXIT_TERMINATED; /* nothing was created */
    if (!r->kube)
        return cancel(r, "not running in a cluster: a stop is a stop", DELETED_REASON,
                      DELETED_MESSAGE);
    char ended_reason[64];
    stop_cause cause = ask_why(r, ended_reason, sizeof(ended_reason));
    for (int look = 1; cause == STOP_UNEXPLAINED && look < STOP_LOOKS; look++) {
        clock_sleep_ms(STOP_LOOK_INTERVAL_MS, NULL);
        cause = ask_why(r, ended_reason, sizeof(ended_reason));
    }
    if (cause == STOP_DELETED)
        return cancel(r, "the Kubernetes Job was deleted", DELETED_REASON, DELETED_MESSAGE);
    if (cause == STOP_ENDED) { /* e.g. activeDeadlineSeconds passed: no pod will re-attach */
        char why[128], reason[160], message[160];
        snprintf(why, sizeof(why), "the Kubernetes Job ended (%s): no pod comes after this one",
                 ended_reason);
        snprintf(reason, sizeof(reason), "batch-offload: the Kubernetes Job was ended (%s)",
                 ended_reason);
        snprintf(message, sizeof(message), "the Job ended (%s): the Batch job was terminated",
                 ended_reason);
        return cancel(r, why, reason, message);
    }
    if (cause == STOP_SUSPENDED)
        return suspend(r);
    const char *why = cause == STOP_NO_ANSWER ? "the API server did not say why"
                      : cause == STOP_DISRUPTED
                          ? "the pod was disrupted (eviction, drain or preemption)"
                          : "the Job is neither deleted, ended nor suspended";
    log_info("stop requested: the Batch job runs on, and the next pod re-attaches to it",
             LOG_STR("job", r->config->job_id), LOG_STR("why", why));
    char message[256];
    snprintf(message, sizeof(message), "the pod was stopped (%s): Batch job %s runs on", why,
             r->config->job_id);
    job_reporter_event(r->reporter, EVENT_NORMAL, "LeftRunning", message);
    return OFFLOAD_EXIT_TERMINATED;
}

/* ---- the Kubernetes Job ------------------------------------------------ */

/* A result an earlier pod recorded on the Job: its exit code (-1: none). */
static int recorded_exit_code(run *r)
{
    if (!r->kube)
        return -1;
    kube_job_state job;
    int code = -1;
    if (kube_job_read(r->kube, &r->job_ref, &job) && job.result) {
        json_document doc;
        char error[64];
        int64_t recorded = -1;
        if (json_document_parse(&doc, job.result, strlen(job.result), JSON_TOKENS_FOR_A_VALUE,
                                error, sizeof(error))) {
            if (json_read_int64(&doc, json_object_get(&doc, 0, "exitCode"), 0, 255, &recorded))
                code = (int)recorded;
            json_document_free(&doc);
        }
        log_info("the work ended before this pod started: its result is recorded on the Job",
                 LOG_STR("result", job.result));
    }
    kube_job_state_free(&job);
    return code;
}

/* Before the Batch job goes away: the outcome, on the Job, for any pod that
 * comes after (a kill during the delete must not run the work again). */
static void record_result(run *r, int code, const progress_report *report)
{
    const char *outcome = code == OFFLOAD_EXIT_SUCCEEDED ? "succeeded" : "failed";
    long tasks = r->plan->completions + (r->plan->has_aggregator ? 1 : 0);
    job_reporter_progress(r->reporter, report->counts.succeeded, report->counts.failed,
                          report->counts.running, report->counts.active, tasks, true);
    /* Without access the one warning said it already (docs/KUBERNETES.md). */
    if (!job_reporter_result(r->reporter, outcome, code, r->config->job_id, tasks,
                             report->counts.succeeded, report->counts.failed, report->reason) &&
        r->kube && !kube_client_said_unavailable(r->kube))
        log_warn("could not record the result on the Kubernetes Job");
    job_reporter_event(r->reporter, code == OFFLOAD_EXIT_SUCCEEDED ? EVENT_NORMAL : EVENT_WARNING,
                       code == OFFLOAD_EXIT_SUCCEEDED ? "Completed" : "Failed", report->reason);
}

static void describe_start(const run *r)
{
    const offloader_config *c = r->config;
    const job_plan *plan = r->plan;
    char pool[240];
    int n;
    if (c->pool_id)
        n = snprintf(pool, sizeof(pool), "pool %s", c->pool_id);
    else
        n = snprintf(pool, sizeof(pool), "an auto pool of up to %ld %s %s nodes", c->max_nodes,
                     plan->dedicated_nodes ? "dedicated" : "spot", c->vm_size);
    if (plan->spec->gpus > 0 && n > 0 && (size_t)n < sizeof(pool))
        snprintf(pool + n, sizeof(pool) - (size_t)n,
                 ", each task with every GPU of its node (%ld asked)", plan->spec->gpus);
    log_info("offloading to Azure Batch", LOG_STR("kubernetes_job", plan->display_name),
             LOG_STR("batch_job", c->job_id), LOG_NUM("workers", plan->completions),
             LOG_STR("aggregator", plan->has_aggregator ? c->aggregator_image : "none"),
             LOG_STR("on", pool), LOG_STR("auth", c->auth_text));
}

/* With Entra ID, the identity is tried before anything else: refused, it is
 * bad configuration (exit 2), never retried; unanswered, Azure is unavailable. */
static int check_identity(run *r)
{
    if (!r->tokens)
        return -1;
    char error[320];
    bool refused;
    if (entra_token_for(r->tokens, &ENTRA_BATCH, error, sizeof(error), &refused))
        return -1;
    if (*r->stop)
        return OFFLOAD_EXIT_TERMINATED;
    log_error(refused ? "Entra ID refused the offloader's identity"
                      : "cannot reach Entra ID for a token",
              LOG_STR("auth", r->config->auth_text), LOG_STR("reason", error));
    return refused ? OFFLOAD_EXIT_BAD_CONFIGURATION : OFFLOAD_EXIT_AZURE_UNAVAILABLE;
}

static bool start_clients(run *r)
{
    const offloader_config *c = r->config;
    retry_policy policy = offloader_retry_policy(c);
    r->http = http_client_new(&policy, (volatile const int *)r->stop);
    if (offloader_config_uses_entra(c))
        r->tokens = entra_tokens_new(&c->entra, &policy, (volatile const int *)r->stop);
    r->primary = (batch_client){c, &c->primary, r->http, r->tokens, NULL};
    r->secondary = (batch_client){c, c->secondary.batch_url ? &c->secondary : NULL, r->http,
                                  r->tokens, NULL};
    return r->http && (r->tokens || !offloader_config_uses_entra(c));
}

/* The Kubernetes side: the API client in a cluster, the Job it works for. */
static void start_kubernetes(run *r)
{
    const offloader_config *c = r->config;
    r->kube = kube_client_in_cluster(c->serviceaccount_dir,
                                     "progress and events are not shown on the Job, and a "
                                     "SIGTERM leaves the Batch job running");
    r->job_ref = (kube_job_ref){.namespace_name = c->namespace_name, .name = c->job_name,
                                .uid = c->job_uid, .pod_name = c->pod_name};
    if (r->kube && (!c->namespace_name || !c->job_name || !c->job_uid)) {
        log_warn("running in a cluster without the Job's name and UID (BATCH_OFFLOAD_NAMESPACE, "
                 "BATCH_OFFLOAD_JOB_NAME, BATCH_OFFLOAD_JOB_UID): nothing is written on the Job, "
                 "and a SIGTERM terminates the Batch job");
        kube_client_free(r->kube);
        r->kube = NULL;
    }
    r->reporter = job_reporter_new(r->kube, &r->job_ref);
}

/* The job is placed (or found) and its tasks added: said on the Job (not when it
 * ended before they could be: then follow says why). */
static void say_submitted(run *r, job_start start, bool ended)
{
    const offloader_config *c = r->config;
    job_reporter_batch_job(r->reporter, c->job_id, r->active->account->batch_url);
    if (start != JOB_NEW || ended)
        return;
    char message[400];
    snprintf(message, sizeof(message), "%ld tasks in Batch job %s, account %s, %s %s",
             r->plan->completions + (r->plan->has_aggregator ? 1 : 0), c->job_id,
             r->active->account->batch_url, c->pool_id ? "pool" : "an auto pool of",
             c->pool_id ? c->pool_id : c->vm_size);
    job_reporter_event(r->reporter, EVENT_NORMAL, "Submitted", message);
}

int offload_run(job_plan *plan, volatile sig_atomic_t *stop)
{
    run r = {.plan = plan, .config = plan->config, .stop = stop};
    int code = OFFLOAD_EXIT_AZURE_UNAVAILABLE;
    start_kubernetes(&r);
    int recorded = recorded_exit_code(&r);
    if (recorded >= 0) {
        code = recorded;
        goto done;
    }
    if (!start_clients(&r)) {
        log_error("cannot start the HTTP client");
        goto done;
    }
    describe_start(&r);
    job_start start = JOB_NEW;
    code = check_identity(&r);
    if (code < 0)
        code = locate_job(&r, &start);
    if (code < 0 && start == JOB_CANCELLED)
        code = OFFLOAD_EXIT_WORK_FAILED;
    if (code < 0 && r.active) /* re-attached: storage for its account, without signing anew */
        storage_plan_layout(&plan->storage, r.config, r.active->account);
    if (code < 0 && r.active && (start == JOB_ADOPTED)) /* tasks may still be added: sign */
        code = prepare_storage(&r, r.active);
    if (code < 0 && r.active) /* the tasks still to add get the inputs the first ones got */
        plan->storage.has_inputs = !r.found_without_inputs;
    if (code < 0 && !r.active)
        code = place_job(&r);
    bool ended = start == JOB_FINISHED;
    if (code < 0 && (start == JOB_NEW || start == JOB_ADOPTED)) {
        code = submit(r.active, plan, start, &ended);
        if (code == OFFLOAD_EXIT_BAD_CONFIGURATION) /* refused: what was added would wait forever */
            end_job(r.active, plan, "batch-offload: Batch refused the tasks");
    }
    if (code < 0)
        say_submitted(&r, start, ended);
    progress_report report = {0};
    if (code < 0) {
        code = follow(r.active, plan, ended, r.reporter, &report);
        /* Its pool is gone or cannot be made: tasks left waiting would start unwatched
         * the day a pool of that id appears, so the job ends here (kept with KEEPBATCHJOB). */
        if (code == OFFLOAD_EXIT_BAD_CONFIGURATION && !*stop)
            end_job(r.active, plan, "batch-offload: the pool cannot run the work");
    }
    if (*stop)
        code = OFFLOAD_EXIT_TERMINATED;
    if ((code == OFFLOAD_EXIT_SUCCEEDED || code == OFFLOAD_EXIT_WORK_FAILED) &&
        start != JOB_CANCELLED) {
        if (code == OFFLOAD_EXIT_WORK_FAILED) { /* tasks may still run: stop them before leaving */
            batch_result res;
            batch_terminate_job(r.active, "batch-offload: the work failed", &res);
        }
        record_result(&r, code, &report);
        print_locations(plan);
        finish(r.active, plan);
        guard_primary(&r);
    }
    if (code == OFFLOAD_EXIT_TERMINATED)
        code = stopped(&r);
done:
    job_reporter_free(r.reporter);
    kube_client_free(r.kube);
    entra_tokens_free(r.tokens);
    http_client_free(r.http);
    return code;
}
