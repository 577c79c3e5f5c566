/* What of the Job's failure and success policy Azure Batch cannot do as
 * Kubernetes does (the offloader carries the rest: offloader/job_policy.h):
 * warnings, and a denial for what cannot run at all. */
#ifndef JOB_POLICY_CHECK_H
#define JOB_POLICY_CHECK_H

#include <stdbool.h>

#include "admission_warnings.h"
#include "buffer.h"
#include "json_reader.h"

/* false (with why in message) when the Job cannot be offloaded as it is. */
bool job_policy_check(const json_document *doc, int job_spec, bool has_aggregator,
                      admission_warnings *warnings, buffer *message);

#endif
