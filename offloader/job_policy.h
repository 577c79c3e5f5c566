/* When the Kubernetes Job has failed or succeeded, as the Job controller
 * decides it (backoffLimit, backoffLimitPerIndex, maxFailedIndexes,
 * successPolicy, podFailurePolicy's onExitCodes rules), applied to what Batch
 * reports of the worker tasks. Read once from WORKERSPEC; the judging
 * functions are pure, so progress_monitor asks and Batch is told.
 * README.md, "Failure and success", says what maps and what differs. */
#ifndef JOB_POLICY_H
#define JOB_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "buffer.h"
#include "json_reader.h"

/* What an exit code does to its task on Batch once its retries are spent. */
typedef enum {
    EXIT_ENDS_JOB,   /* FailJob (and, without backoffLimitPerIndex, any failure) */
    EXIT_ENDS_INDEX, /* FailIndex (and, with backoffLimitPerIndex, any failure) */
} exit_code_effect;

/* Exit codes start..end (never 0, which Kubernetes never matches). */
typedef struct exit_code_span {
    int32_t start, end;
    exit_code_effect effect;
} exit_code_span;

/* Indexes given as Kubernetes writes them: "0-2,5" (sorted, disjoint). */
typedef struct index_interval {
    int64_t first, last;
} index_interval;

typedef struct success_rule {
    index_interval *indexes; /* NULL: any index */
    size_t interval_count;
    int64_t count; /* succeededCount; 0: every listed index */
} success_rule;

typedef struct job_policy {
    long completions;
    bool per_index;             /* backoffLimitPerIndex: a failed index leaves the others going */
    int64_t backoff_limit;      /* failed attempts over the whole Job; -1: no limit */
    int64_t max_failed_indexes; /* -1: no limit */
    exit_code_effect default_effect;
    exit_code_span *spans; /* rules that differ from default_effect, by start */
    size_t span_count;
    success_rule *success; /* any one met: the Job succeeded */
    size_t success_count;
    bool success_needs_indexes; /* some rule names indexes: the succeeded ones must be read */
} job_policy;

/* From WORKERSPEC's Job fields (doc's root); false with reasons in errors. */
bool job_policy_read(job_policy *p, const json_document *doc, long completions, buffer *errors);
void job_policy_free(job_policy *p);

typedef enum {
    POLICY_GO_ON,
    POLICY_FAILED_BACKOFF,        /* more failed attempts than backoffLimit */
    POLICY_FAILED_MAX_INDEXES,    /* more failed indexes than maxFailedIndexes */
    POLICY_FAILED_INDEXES,        /* every index done, some failed */
    POLICY_SUCCEEDED,             /* a successPolicy rule is met */
} policy_verdict;

/* What the worker tasks say now. failed_attempts: every failed run of a
 * worker, retries included (-1: not read). succeeded: a bitmap of the
 * succeeded indexes when success_needs_indexes, else NULL. */
typedef struct worker_tally {
    long succeeded, failed, done; /* done = succeeded + failed of the workers */
    long failed_attempts;
    const unsigned char *succeeded_indexes;
} worker_tally;

policy_verdict job_policy_judge(const job_policy *p, const worker_tally *t);

/* The Batch job's terminateReason for a verdict that ends it (the Job
 * condition reasons of the Job controller, for the same ends). */
const char *job_policy_terminate_reason(policy_verdict v);

/* Whether a Batch job's terminateReason is one a failure verdict gave it. */
bool job_policy_failed_it(const char *terminate_reason);

/* One line for the log and the Job, e.g. "7 failed attempts: more than
 * backoffLimit 6". */
void job_policy_describe(const job_policy *p, policy_verdict v, const worker_tally *t,
                         char *out, size_t size);

#endif
