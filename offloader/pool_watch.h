/* While a job's tasks wait: what its pool says, told on the log and as
 * Events, and what the run does about it (README, "When tasks wait"):
 *   the pool is gone (404, or being deleted) while the job is live
 *       -> POOL_UNUSABLE: nothing will run the tasks (the run ends the job, exit 2)
 *   the auto pool's VM size is refused (UnsupportedVMSize, IncompatibleVMSize)
 *       -> POOL_UNUSABLE: it never fixes itself
 *   an auto pool of Spot nodes has none (quota, capacity): the cause and the
 *       remedy (Event SpotUnavailable); with BATCH_OFFLOAD_SPOT_FALLBACK=dedicated,
 *       once they have been missing for BATCH_OFFLOAD_SPOT_FALLBACK_SECONDS, the
 *       pool's formula asks for dedicated nodes instead (Event SpotFallback)
 *   anything else (a core quota, a scheduling error): said (Event Waiting), and
 *       the run waits, as Batch keeps trying
 * A named pool is the platform's: its resize errors are told, never acted on. */
#ifndef POOL_WATCH_H
#define POOL_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batch_client.h"
#include "job_plan.h"
#include "job_reporter.h"

typedef struct pool_watch {
    const job_plan *plan;
    job_reporter *reporter;    /* may be NULL */
    uint64_t spot_short_since; /* monotonic ms this run first saw no Spot nodes; 0: not short */
    bool switched;             /* the auto pool asks for dedicated nodes now (this run or an earlier one) */
    char said[1024];           /* the last reason for waiting told */
} pool_watch;

void pool_watch_init(pool_watch *w, const job_plan *plan, job_reporter *reporter);

typedef enum { POOL_WAIT, POOL_UNUSABLE, POOL_CANCELLED } pool_verdict;

/* For a live job (job as Batch_GetJob read it): why its tasks wait. POOL_UNUSABLE
 * with why (for the log, the Event and the Job's reason) when they never will run. */
pool_verdict pool_watch_check(pool_watch *w, batch_client *b, const job_info *job, char *why,
                              size_t why_size);

#endif
