/* Following a submitted job to its end: one task-counts request per poll,
 * the interval growing while nothing changes, a progress line whenever the
 * counts change and at least every 30 seconds. */
#ifndef PROGRESS_MONITOR_H
#define PROGRESS_MONITOR_H

#include <stdint.h>

#include "batch_client.h"
#include "job_plan.h"
#include "job_reporter.h"

typedef enum {
    WORK_SUCCEEDED,
    WORK_FAILED,            /* a task failed after its retries, or the job ended early */
    WORK_REFUSED,           /* it can never run as configured: its pool is gone, Batch
                             * could not make its auto pool (exit 2); reason says why */
    WORK_CANCELLED,
    WORK_AZURE_UNAVAILABLE, /* no usable answer within the retry policy */
} work_outcome;

typedef struct progress_report {
    task_counts counts;
    uint64_t polls;
    char reason[1024]; /* why the work failed */
} progress_report;

/* job_ended: the job is known to have ended already (its state is checked
 * at the first poll that shows no progress, not after a quiet minute). The
 * reporter (may be NULL) hears the counts, the milestones and why tasks wait
 * (pool_watch.h: what the pool says, and a Spot fallback). */
work_outcome progress_follow(batch_client *b, const job_plan *plan, bool job_ended,
                             job_reporter *reporter, progress_report *report);

#endif
