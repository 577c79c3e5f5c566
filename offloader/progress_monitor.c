/* Following progress; see progress_monitor.h.
 *
 * Task counts say when every task succeeded and when one failed for good
 * (a task counts as failed only after its retries). They cannot say that the
 * job itself ended early (its deadline passed, someone terminated it): then
 * tasks stay active forever. So when the counts have not moved for a while,
 * one extra request asks for the job's state. */
#include "progress_monitor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "pool_watch.h"

#define POLL_MIN_MS 1000
#define REPORT_EVERY_MS 30000
/* Nothing moved for this long: ask the job why (a pool without nodes says so
 * early, a long task keeps the job quiet for hours, so later checks are rarer). */
#define FIRST_STALL_CHECK_MS 15000
#define STALL_CHECK_MS 60000
/* Past the job's deadline the service ends it any moment: look sooner. */
#define PAST_DEADLINE_CHECK_MS 5000
/* backoffLimit and successPolicy's indexes need a list of the tasks, not
 * just their counts: read that often (rarer for big jobs: a page is 1,000). */
#define POLICY_READ_MS 10000
#define POLICY_READ_LARGE_MS 60000
#define POLICY_LARGE_JOB 10000

static bool counts_equal(const task_counts *a, const task_counts *b)
{
    return a->active == b->active && a->running == b->running &&
           a->completed == b->completed && a->succeeded == b->succeeded &&
           a->failed == b->failed;
}

static void print_progress(const task_counts *c, long total, bool aggregator,
                           uint64_t elapsed_ms)
{
    char line[256];
    uint64_t seconds = elapsed_ms / 1000;
    snprintf(line, sizeof(line),
             "[%um%02us] %lld of %ld tasks succeeded (%ld workers%s): %lld running, "
             "%lld waiting, %lld failed",
             (unsigned)(seconds / 60), (unsigned)(seconds % 60), (long long)c->succeeded, total,
             total - (aggregator ? 1 : 0), aggregator ? " + aggregator" : "",
             (long long)c->running, (long long)c->active, (long long)c->failed);
    log_info(line);
}

/* Why an ended job ended, in the terms of the Kubernetes Job. */
static void explain_end(const job_info *job, char *out, size_t size)
{
    if (strcmp(job->terminate_reason, "MaxWallClockTimeExpiry") == 0)
        snprintf(out, size, "the Job's deadline passed (activeDeadlineSeconds: the Batch job's "
                            "maxWallClockTime expired and its tasks were stopped)");
    else if (strcmp(job->terminate_reason, "TaskFailed") == 0)
        snprintf(out, size, "a task failed after its retries, which ends the Batch job");
    else if (job_policy_failed_it(job->terminate_reason))
        snprintf(out, size, "the Job's failure policy ended the Batch job (%s)",
                 job->terminate_reason);
    else
        snprintf(out, size, "the Batch job ended before its tasks did (terminate reason: %s)",
                 job->terminate_reason[0] ? job->terminate_reason : "none given");
}

/* A job that ended with a scheduling error never ran: Batch could not make
 * its auto pool (an image, a VM size it would not take). Batch's own words. */
static work_outcome explain_unscheduled(const job_info *job, job_reporter *reporter,
                                        progress_report *report)
{
    snprintf(report->reason, sizeof(report->reason),
             "Batch ended the job before it could run (its pool could not be made): %s",
             job->scheduling_error);
    if (!job->scheduling_user_error)
        return WORK_FAILED; /* the service's own failure, not the configuration */
    log_error(report->reason);
    job_reporter_event(reporter, EVENT_WARNING, "BadConfiguration", report->reason);
    return WORK_REFUSED;
}

/* Did the job end without its tasks, or can it never run them? If neither, why do
 * they wait? WORK_SUCCEEDED here means: it goes on (cancelled: a stop was requested). */
static work_outcome job_ended_early(batch_client *b, pool_watch *watch, job_reporter *reporter,
                                    progress_report *report)
{
    job_info job;
    batch_result r;
    if (!batch_get_job(b, &job, &r))
        return WORK_CANCELLED;
    if (r.status == 404) {
        snprintf(report->reason, sizeof(report->reason),
                 "the Batch job was deleted while its tasks were running");
        return WORK_FAILED;
    }
    if (!batch_result_ok(&r))
        return WORK_SUCCEEDED;
    if (batch_job_is_live(job.state)) {
        switch (pool_watch_check(watch, b, &job, report->reason, sizeof(report->reason))) {
        case POOL_WAIT:
            return WORK_SUCCEEDED;
        case POOL_UNUSABLE:
            return WORK_REFUSED;
        case POOL_CANCELLED:
            return WORK_CANCELLED;
        }
    }
    if (job.scheduling_error[0])
        return explain_unscheduled(&job, reporter, report);
    explain_end(&job, report->reason, sizeof(report->reason));
    return WORK_FAILED;
}

/* Tasks failed: because of themselves, or because the job was ended under
 * them (its deadline, someone terminating it)? Only the job's terminate
 * reason tells. */
static void explain_failed_tasks(batch_client *b, const task_counts *counts,
                                 progress_report *report, bool *cancelled)
{
    snprintf(report->reason, sizeof(report->reason), "%lld task%s failed after %s",
             (long long)counts->failed, counts->failed == 1 ? "" : "s",
             counts->failed == 1 ? "its retries" : "their retries");
    job_info job;
    batch_result r;
    *cancelled = !batch_get_job(b, &job, &r);
    bool ended = !*cancelled && batch_result_ok(&r) &&
                 (job.state == JOB_STATE_TERMINATING || job.state == JOB_STATE_COMPLETED);
    if (ended && job.terminate_reason[0] && strcmp(job.terminate_reason, "TaskFailed") != 0 &&
        strcmp(job.terminate_reason, "AllTasksComplete") != 0)
        explain_end(&job, report->reason, sizeof(report->reason));
}

/* 25, 50 and 75 % of the tasks done, each said once. */
static void report_milestones(job_reporter *reporter, const task_counts *c, long total,
                              int *said)
{
    int quarter = total > 0 ? (int)((c->succeeded + c->failed) * 4 / total) : 0;
    for (; *said < quarter && *said < 3; (*said)++) {
        char message[160];
        snprintf(message, sizeof(message), "%d%% of the tasks are done: %lld of %ld succeeded",
                 (*said + 1) * 25, (long long)c->succeeded, total);
        job_reporter_event(reporter, EVENT_NORMAL, "Progress", message);
    }
}

/* What the failure and success policy needs beyond the task counts, read
 * now and then and kept between reads. */
typedef struct policy_reads {
    long failed_attempts;       /* -1: not read yet */
    unsigned char *succeeded;   /* bitmap of succeeded indexes, when a rule names indexes */
    long succeeded_when_read;   /* the count the bitmap was read at */
    uint64_t attempts_read_at, indexes_read_at;
} policy_reads;

static void read_for_policy(batch_client *b, const job_plan *plan, const task_counts *c,
                            policy_reads *reads, uint64_t now)
{
    const job_policy *p = &plan->policy;
    uint64_t every = plan->completions > POLICY_LARGE_JOB ? POLICY_READ_LARGE_MS : POLICY_READ_MS;
    batch_result r;
    /* With one task its own retry limit is the Job's. */
    if (p->backoff_limit >= 0 && plan->completions > 1 && c->running + c->completed > 0 &&
        (reads->failed_attempts < 0 || now - reads->attempts_read_at >= every)) {
        long attempts;
        if (batch_count_failed_attempts(b, &attempts, &r) && batch_result_ok(&r))
            reads->failed_attempts = attempts;
        reads->attempts_read_at = now;
    }
    if (reads->succeeded && c->succeeded != reads->succeeded_when_read &&
        (reads->indexes_read_at == 0 || now - reads->indexes_read_at >= every / 2)) {
        memset(reads->succeeded, 0, ((size_t)plan->completions + 7) / 8);
        if (batch_mark_succeeded_indexes(b, reads->succeeded, plan->completions, &r) &&
            batch_result_ok(&r))
            reads->succeeded_when_read = c->succeeded;
        reads->indexes_read_at = now;
    }
}

/* The Job's policy decided: the Batch job is ended with the Job controller's
 * reason (tasks still running are stopped; one already ended answers 409). */
static void say_verdict(const job_plan *plan, policy_verdict v, const worker_tally *t,
                        progress_report *report)
{
    job_policy_describe(&plan->policy, v, t, report->reason, sizeof(report->reason));
    log_info("the Job's policy decided", LOG_STR("reason", report->reason));
}

static work_outcome end_by_policy(batch_client *b, const job_plan *plan, policy_verdict v,
                                  const worker_tally *t, progress_report *report)
{
    say_verdict(plan, v, t, report);
    batch_result r;
    if (!batch_terminate_job(b, job_policy_terminate_reason(v), &r))
        return WORK_CANCELLED;
    if (!batch_result_ok(&r) && r.status != 409)
        log_warn("could not end the Batch job: it ends when its tasks do",
                 LOG_NUM("status", r.status));
    return v == POLICY_SUCCEEDED ? WORK_SUCCEEDED : WORK_FAILED;
}

/* Every task succeeded, but as on Kubernetes the retries it took may have
 * passed backoffLimit: one last count decides (a read since may be stale). */
static bool backoff_exceeded_at_the_end(batch_client *b, const job_plan *plan,
                                        worker_tally *tally, progress_report *report)
{
    const job_policy *p = &plan->policy;
    batch_result r;
    long attempts;
    if (p->backoff_limit < 0 || plan->completions <= 1 ||
        !batch_count_failed_attempts(b, &attempts, &r) || !batch_result_ok(&r) ||
        attempts <= p->backoff_limit)
        return false;
    tally->failed_attempts = attempts;
    say_verdict(plan, POLICY_FAILED_BACKOFF, tally, report);
    return true;
}

static work_outcome follow_until_over(batch_client *b, const job_plan *plan, bool job_ended,
                                      job_reporter *reporter, progress_report *report,
                                      policy_reads *reads)
{
    int milestones = 0;
    long total = plan->completions + (plan->has_aggregator ? 1 : 0);
    uint64_t max_interval = (uint64_t)plan->config->poll_max_seconds * 1000;
    uint64_t interval = POLL_MIN_MS;
    uint64_t started = clock_monotonic_ms();
    uint64_t last_print = 0;
    uint64_t last_change = job_ended ? started - STALL_CHECK_MS : started;
    uint64_t stall_check = FIRST_STALL_CHECK_MS;
    /* Measured from our start, so never before the job's own deadline. */
    uint64_t deadline_at = plan->max_wall_clock_seconds > 0
                               ? started + (uint64_t)plan->max_wall_clock_seconds * 1000
                               : UINT64_MAX;
    task_counts previous = {-1, -1, -1, -1, -1};
    pool_watch watch;
    pool_watch_init(&watch, plan, reporter);
    memset(report, 0, sizeof(*report));
    for (;;) {
        batch_result r;
        task_counts counts;
        if (!batch_get_task_counts(b, &counts, &r))
            return WORK_CANCELLED;
        report->polls++;
        if (r.status == 404) {
            snprintf(report->reason, sizeof(report->reason),
                     "the Batch job was deleted while its tasks were running");
            return WORK_FAILED;
        }
        if (!batch_result_ok(&r)) {
            buffer what;
            buffer_init(&what, 0);
            batch_result_describe(&r, &what);
            snprintf(report->reason, sizeof(report->reason), "reading task counts: %s",
                     buffer_cstr(&what));
            buffer_free(&what);
            return batch_result_outage(&r) ? WORK_AZURE_UNAVAILABLE : WORK_FAILED;
        }
        report->counts = counts;
        uint64_t now = clock_monotonic_ms();
        bool changed = !counts_equal(&counts, &previous);
        /* The aggregator runs only once every worker succeeded: a failure
         * then is its own, and ends the Job as any task's failure does. */
        bool aggregator_failed = plan->has_aggregator && counts.failed > 0 &&
                                 counts.succeeded >= plan->completions;
        worker_tally tally = {.failed = (long)counts.failed, .failed_attempts = -1};
        tally.succeeded = counts.succeeded < plan->completions ? (long)counts.succeeded
                                                               : plan->completions;
        tally.done = tally.succeeded + tally.failed;
        policy_verdict verdict = POLICY_GO_ON;
        if (!aggregator_failed && (plan->policy.per_index || counts.failed == 0)) {
            read_for_policy(b, plan, &counts, reads, now);
            tally.failed_attempts = reads->failed_attempts;
            tally.succeeded_indexes = reads->succeeded;
            verdict = job_policy_judge(&plan->policy, &tally);
        }
        bool task_failure_ends = counts.failed > 0 && (!plan->policy.per_index || aggregator_failed);
        bool over = verdict != POLICY_GO_ON || task_failure_ends || counts.succeeded == total;
        job_reporter_progress(reporter, counts.succeeded, counts.failed, counts.running,
                              counts.active, total, over);
        report_milestones(reporter, &counts, total, &milestones);
        if (changed || now - last_print >= REPORT_EVERY_MS) {
            print_progress(&counts, total, plan->has_aggregator, now - started);
            last_print = now;
        }
        if (verdict != POLICY_GO_ON && counts.succeeded < total)
            return end_by_policy(b, plan, verdict, &tally, report);
        if (task_failure_ends) {
            bool cancelled;
            explain_failed_tasks(b, &counts, report, &cancelled);
            return cancelled ? WORK_CANCELLED : WORK_FAILED;
        }
        if (counts.succeeded == total)
            return backoff_exceeded_at_the_end(b, plan, &tally, report) ? WORK_FAILED
                                                                        : WORK_SUCCEEDED;
        if (changed) {
            previous = counts;
            if (!job_ended)
                last_change = now;
            interval = POLL_MIN_MS;
        } else {
            interval = interval * 3 / 2 > max_interval ? max_interval : interval * 3 / 2;
        }
        uint64_t quiet_limit = now >= deadline_at ? PAST_DEADLINE_CHECK_MS : stall_check;
        if (now - last_change >= quiet_limit || (now >= deadline_at && last_change < deadline_at)) {
            work_outcome early = job_ended_early(b, &watch, reporter, report);
            if (early != WORK_SUCCEEDED)
                return early;
            last_change = now; /* check again after another, longer, quiet spell */
            stall_check = STALL_CHECK_MS;
        }
        volatile const int *cancel = http_client_cancel_flag(b->http);
        clock_sleep_ms(interval, cancel);
        if (cancel && *cancel)
            return WORK_CANCELLED;
    }
}

work_outcome progress_follow(batch_client *b, const job_plan *plan, bool job_ended,
                             job_reporter *reporter, progress_report *report)
{
    policy_reads reads = {.failed_attempts = -1, .succeeded_when_read = -1};
    if (plan->policy.success_needs_indexes) {
        reads.succeeded = calloc(((size_t)plan->completions + 7) / 8, 1);
        if (!reads.succeeded) {
            memset(report, 0, sizeof(*report));
            snprintf(report->reason, sizeof(report->reason), "out of memory");
            return WORK_FAILED;
        }
    }
    work_outcome outcome = follow_until_over(b, plan, job_ended, reporter, report, &reads);
    free(reads.succeeded);
    return outcome;
}
