/* The Job's failure and success policy at admission; see job_policy_check.h.
 *
 * On Batch a task's retries (maxTaskRetryCount) run before any exit code is
 * looked at, and every failed run counts as one: so a rule that fails the
 * Job or the index at once acts only after the retries, and Ignore cannot
 * keep a failure from counting. Pod conditions have no Batch counterpart. */
#include "job_policy_check.h"

#include <stdint.h>

/* The retries each task gets: backoffLimitPerIndex, else backoffLimit
 * (the API server's default 6). */
static int64_t task_retries(const json_document *doc, int job_spec)
{
    int64_t retries = 6;
    int per_index = json_object_get(doc, job_spec, "backoffLimitPerIndex");
    if (!json_read_int64(doc, per_index, 0, INT32_MAX, &retries))
        json_read_int64(doc, json_object_get(doc, job_spec, "backoffLimit"), 0, INT32_MAX,
                        &retries);
    return retries;
}

static void warn_rule(const json_document *doc, int rule, int index, int64_t retries,
                      admission_warnings *warnings)
{
    if (json_object_get(doc, rule, "onPodConditions") >= 0) {
        admission_warnings_add(warnings,
                               "spec.podFailurePolicy.rules[%d] (onPodConditions) does not apply "
                               "on Azure Batch: a preempted or lost node requeues its task "
                               "without counting a retry", index);
        return;
    }
    int action = json_object_get(doc, rule, "action");
    if (json_string_equals(doc, action, "Ignore"))
        admission_warnings_add(warnings,
                               "spec.podFailurePolicy.rules[%d] (Ignore): Azure Batch counts "
                               "these failures as retries of the task, against backoffLimit",
                               index);
    else if ((json_string_equals(doc, action, "FailJob") ||
              json_string_equals(doc, action, "FailIndex")) && retries > 0)
        admission_warnings_add(warnings,
                               "spec.podFailurePolicy.rules[%d]: on Azure Batch it acts once the "
                               "task's %lld retries are spent (Batch retries every failure first)",
                               index, (long long)retries);
}

bool job_policy_check(const json_document *doc, int job_spec, bool has_aggregator,
                      admission_warnings *warnings, buffer *message)
{
    if (has_aggregator && json_object_get(doc, job_spec, "successPolicy") >= 0 &&
        json_type_of(doc, json_object_get(doc, job_spec, "successPolicy")) != JSON_NULL) {
        buffer_append_str(message, "spec.successPolicy cannot be used with "
                                   "batch-offload.io/aggregator-image: the aggregator runs only "
                                   "once every worker task has succeeded");
        return false;
    }
    int rules = json_lookup(doc, job_spec, "podFailurePolicy", "rules", NULL);
    int64_t retries = task_retries(doc, job_spec);
    json_iterator it = json_iterate(doc, rules);
    int rule;
    for (int index = 0; json_iterator_next(&it, &rule); index++)
        warn_rule(doc, rule, index, retries, warnings);
    return true;
}
