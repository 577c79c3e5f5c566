/* Why the work failed, as the user reads it in kubectl logs. */
#ifndef FAILURE_REPORT_H
#define FAILURE_REPORT_H

#include "batch_client.h"

/* Lists the job's failed tasks and logs the first few with their stderr tail. */
void failure_report_print(batch_client *b);

#endif
