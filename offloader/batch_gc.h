/* batch-offloader gc: the Batch jobs this project made whose Kubernetes Job
 * is gone, or recorded its result longer ago than the retention, deleted
 * (docs/KUBERNETES.md, "Collecting what was left behind"). Nothing else is
 * touched: a job without batch-offload's metadata, a live Job, and any
 * answer from the API server other than a clear NotFound leave a job be. */
#ifndef BATCH_GC_H
#define BATCH_GC_H

#include <signal.h>
#include <stdbool.h>
#include <time.h>

#include "batch_client.h"
#include "kube_job.h"
#include "offloader_config.h"

#define GC_DEFAULT_RETENTION_HOURS 24
#define GC_MAX_RETENTION_HOURS 87600 /* ten years: the chart schema's bound too */

typedef struct gc_options {
    long retention_hours; /* how long a finished Job's Batch job is kept */
    bool dry_run;         /* say what would be done, do nothing */
} gc_options;

typedef enum {
    GC_LEAVE,    /* not ours, a live Job, or no clear answer */
    GC_ORPHANED, /* its Job is gone, or is another Job of the same name (UID) */
    GC_EXPIRED,  /* its Job recorded a result longer ago than the retention */
} gc_verdict;

/* The verdict on one Batch job from what the API server said of its Job
 * (state NULL: not asked, the job names no Job). */
gc_verdict gc_judge(const batch_job_summary *job, const kube_job_state *state, time_t now,
                    long retention_seconds);

/* One pass over every account in config; the exit code: 0 done, 3 Azure or
 * the API server could not be asked about something (it was left), 2 not in
 * a cluster, 143 stopped. */
int batch_gc_run(const offloader_config *config, const gc_options *options,
                 volatile sig_atomic_t *stop);

#endif
