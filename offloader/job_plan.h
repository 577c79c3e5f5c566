/* Everything decided about the Batch work before any request: the job's
 * settings, the worker and aggregator tasks, the pool. Built once from the
 * configuration and the worker spec; the request builders only serialize it.
 * How each Kubernetes Job field maps to Batch is one table in job_plan.c. */
#ifndef JOB_PLAN_H
#define JOB_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "buffer.h"
#include "env_list.h"
#include "job_policy.h"
#include "offloader_config.h"
#include "registry_auth.h"
#include "storage_plan.h"
#include "worker_spec.h"

#define AGGREGATOR_TASK_ID "aggregator"
#define COMPLETION_INDEX_VARIABLE "JOB_COMPLETION_INDEX"

typedef struct task_plan {
    const char *image;
    buffer command_line;   /* words quoted for the node agent; "" = the image's default */
    buffer run_options;    /* extra `docker create` arguments */
    registry_credentials registry;
    bool has_registry;
} task_plan;

typedef struct job_plan {
    const offloader_config *config;
    const worker_spec *spec; /* outlives the plan */
    char display_name[160];
    long completions;
    /* job settings mapped from the Kubernetes Job (see the table) */
    int64_t max_parallel_tasks;     /* -1: no limit */
    int64_t max_wall_clock_seconds; /* -1: none */
    int64_t max_task_retry_count;   /* -1: unlimited */
    job_policy policy;              /* when the Job has failed or succeeded */
    env_list job_env;               /* the worker container's environment */
    task_plan worker;
    /* The worker's command or args refer to $(JOB_COMPLETION_INDEX), which
     * each task has its own value of: see job_plan_worker_task. */
    bool worker_varies_by_index;
    task_plan aggregator;
    bool has_aggregator;
    storage_plan storage; /* inputs, outputs and logs: set up by the run for its account */
    /* an auto pool when config->pool_id is unset */
    bool dedicated_nodes;
    long auto_pool_nodes; /* starting size: every worker at once, up to the cap */
} job_plan;

/* Builds the plan; false with reasons (naming variables) in errors, and
 * then nothing to free. */
bool job_plan_build(job_plan *plan, const offloader_config *config, const worker_spec *spec,
                    char **environ_list, buffer *errors);
void job_plan_free(job_plan *plan);

/* The worker task for completion `index`: &plan->worker, or, when the
 * command line varies by index, `scratch` filled in for this index (free
 * it with task_plan_free). NULL when out of memory. */
/* The worker index a task id names (the plain decimal "0".."workers-1" the
 * tasks are created with), or -1 for any other id. */
long job_plan_worker_index(const char *task_id, long workers);

const task_plan *job_plan_worker_task(const job_plan *plan, long index, task_plan *scratch);
void task_plan_free(task_plan *task);

#endif
