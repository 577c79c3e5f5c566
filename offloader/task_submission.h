/* Adding a job's tasks: workers "0".."N-1", then the aggregator, with
 * addtaskcollection in chunks of at most 100 tasks and under 1 MB, several
 * chunks in flight over reused connections. Every per-task result is
 * checked: TaskExists means the task is there already (a retried request or
 * an earlier offloader added it), a server error is sent again. Run against
 * a job that already has tasks, it adds only the missing ones. */
#ifndef TASK_SUBMISSION_H
#define TASK_SUBMISSION_H

#include <stdbool.h>
#include <stdint.h>

#include "batch_client.h"
#include "buffer.h"
#include "job_plan.h"

#define TASKS_PER_COLLECTION 100
#define CHUNKS_IN_FLIGHT 8

typedef enum {
    SUBMISSION_DONE,
    SUBMISSION_CANCELLED,
    SUBMISSION_AZURE_UNAVAILABLE, /* transient failures past the retry policy */
    SUBMISSION_REFUSED,           /* the service refused a request: bad configuration */
    SUBMISSION_JOB_ENDED,         /* the job ended or vanished while tasks were added */
} submission_outcome;

typedef struct submission_stats {
    uint64_t collection_calls; /* addtaskcollection requests, retries included */
    uint64_t tasks_added;
    uint64_t tasks_already_there;
} submission_stats;

/* Adds every task not yet in the job. existing_tasks: ask the service which
 * tasks exist first (a re-attached job), or assume none (a new job). */
submission_outcome tasks_submit(batch_client *b, const job_plan *plan, bool existing_tasks,
                                submission_stats *stats, buffer *error);

#endif
