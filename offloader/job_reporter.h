/* What the offloader tells the Kubernetes Job besides its log
 * (docs/KUBERNETES.md, "What the Job shows"): Events on the Job, aggregated
 * (the same reason and message counted on one Event, as client-go's
 * EventCorrelator does) and rate-limited (25, then one per 5 minutes), the
 * progress annotation (at most every 5 seconds, the last state always), the
 * Batch job's annotation and the durable result. Without API access every
 * call is a no-op: the log says it all. */
#ifndef JOB_REPORTER_H
#define JOB_REPORTER_H

#include <stdbool.h>
#include <stdint.h>

#include "kube_client.h"
#include "kube_job.h"

typedef struct job_reporter job_reporter;

typedef enum { EVENT_NORMAL, EVENT_WARNING } event_type;

/* k may be NULL (no API access): then nothing is sent. */
job_reporter *job_reporter_new(kube_client *k, const kube_job_ref *ref);
void job_reporter_free(job_reporter *r);

void job_reporter_event(job_reporter *r, event_type type, const char *reason,
                        const char *message);
/* The progress annotation; final forces it out at once. */
void job_reporter_progress(job_reporter *r, int64_t succeeded, int64_t failed, int64_t running,
                           int64_t waiting, long total, bool final);
void job_reporter_batch_job(job_reporter *r, const char *job_id, const char *account_url);
/* Records the outcome on the Job; false when it could not be written. */
bool job_reporter_result(job_reporter *r, const char *outcome, int exit_code,
                         const char *batch_job, long tasks, int64_t succeeded, int64_t failed,
                         const char *reason);

/* Events created or counted so far, and those left out by the rate limit. */
unsigned job_reporter_events_sent(const job_reporter *r);

#endif
