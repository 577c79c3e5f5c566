/* The bodies of the Batch REST requests the offloader sends, built from the
 * job plan (definitions in third_party/azure-batch/BatchService.*.json):
 * BatchJobCreateOptions, BatchTaskCreateOptions (workers and aggregator),
 * BatchJobUpdateOptions and BatchJobTerminateOptions. */
#ifndef BATCH_REQUESTS_H
#define BATCH_REQUESTS_H

#include <stdbool.h>

#include "buffer.h"
#include "job_plan.h"
#include "json_writer.h"

/* In a task's working directory: where inputs arrive (under their full blob
 * names) and where the task leaves the results to upload. */
#define TASK_INPUT_DIR "input"
#define TASK_OUTPUT_DIR "output"

/* The job is created with onAllTasksComplete "noaction" and switched to
 * "terminatejob" once every task is added, so it cannot end before the
 * last task exists. */
void batch_job_create_body(const job_plan *plan, buffer *out);
void batch_job_finish_when_done_body(buffer *out);
void batch_job_terminate_body(const char *reason, buffer *out);

/* One task object (inside a BatchTaskGroup's "value" array). */
void batch_worker_task_write(const job_plan *plan, long index, json_writer *w);
void batch_aggregator_task_write(const job_plan *plan, json_writer *w);

/* The autoscale formula of an auto pool: the platform's, else the default
 * one on the plan's kind of nodes. */
void batch_autoscale_formula(const job_plan *plan, buffer *out);
/* The default formula: follow the pending tasks, up to the plan's node cap,
 * on dedicated or Spot nodes (what a Spot fallback switches an auto pool to). */
void batch_default_autoscale_formula(const job_plan *plan, bool dedicated, buffer *out);
/* How often an auto pool's formula is evaluated (the shortest Batch allows). */
#define AUTOSCALE_EVALUATION_INTERVAL "PT5M"

#endif
