/* Why the work failed, as the user reads it in kubectl logs. */
#ifndef FAILURE_REPORT_H
#define FAILURE_REPORT_H

#include "batch_client.h"
#include "job_reporter.h"

/* Lists the job's failed tasks and logs the first few with their stderr
 * tail; the first 3 also as TaskFailed Events (reporter may be NULL). */
void failure_report_print(batch_client *b, job_reporter *reporter);

#endif
