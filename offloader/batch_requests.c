/* Batch request bodies; see batch_requests.h. Property names and shapes are
 * the spec's; nothing here decides anything the plan did not. */
#include "batch_requests.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "offload_contract.h"


static void write_env(json_writer *w, const char *key, const env_list *env)
{
    if (env->count == 0)
        return;
    json_key(w, key);
    json_array_begin(w);
    for (size_t i = 0; i < env->count; i++) {
        json_object_begin(w);
        json_member_string(w, "name", env->items[i].name);
        json_member_string(w, "value", env->items[i].value);
        json_object_end(w);
    }
    json_array_end(w);
}

static void write_registry(json_writer *w, const registry_credentials *r)
{
    json_object_begin(w);
    json_member_string(w, "registryServer", r->server);
    json_member_string(w, "username", r->username);
    json_member_string(w, "password", r->password);
    json_object_end(w);
}

static void write_metadata(json_writer *w, const job_plan *plan)
{
    const offloader_config *c = plan->config;
    json_key(w, "metadata");
    json_array_begin(w);
    /* Whose job it is, for gc (docs/KUBERNETES.md): the Job, by namespace, name and UID. */
    const char *const items[][2] = {{OFFLOAD_METADATA_CREATED_BY, OFFLOAD_METADATA_CREATOR},
                                    {OFFLOAD_METADATA_NAMESPACE, c->namespace_name},
                                    {OFFLOAD_METADATA_JOB_NAME, c->job_name},
                                    {OFFLOAD_METADATA_JOB_UID, c->job_uid},
                                    {"batch-offload.io/version", BATCH_OFFLOAD_VERSION}};
    for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++) {
        if (!items[i][1] || !items[i][1][0])
            continue;
        json_object_begin(w);
        json_member_string(w, "name", items[i][0]);
        json_member_string(w, "value", items[i][1]);
        json_object_end(w);
    }
    if (plan->storage.enabled && !plan->storage.has_inputs) {
        json_object_begin(w);
        json_member_string(w, "name", OFFLOAD_METADATA_INPUTS);
        json_member_string(w, "value", OFFLOAD_METADATA_NO_INPUTS);
        json_object_end(w);
    }
    json_array_end(w);
}

void batch_autoscale_formula(const job_plan *plan, buffer *out)
{
    if (plan->config->autoscale_formula) /* the platform's own */
        buffer_append_str(out, plan->config->autoscale_formula);
    else
        batch_default_autoscale_formula(plan, plan->dedicated_nodes, out);
}

void batch_default_autoscale_formula(const job_plan *plan, bool dedicated, buffer *out)
{
    /* The documented pattern (learn.microsoft.com batch-automatic-scaling):
     * average pending tasks over 3 minutes once there are enough samples,
     * the starting size before that; nodes leave after their task ends.
     * A node with several task slots takes that many pending tasks, so the
     * count is divided by them, rounded up. */
    const char *target = dedicated ? "$TargetDedicatedNodes" : "$TargetLowPriorityNodes";
    const char *other = dedicated ? "$TargetLowPriorityNodes" : "$TargetDedicatedNodes";
    long slots = plan->config->task_slots_per_node;
    buffer_appendf(out,
                   "startingNumberOfVMs = %ld;\n"
                   "maxNumberofVMs = %ld;\n"
                   "pendingTaskSamplePercent = $PendingTasks.GetSamplePercent(180 * "
                   "TimeInterval_Second);\n"
                   "pendingTaskSamples = pendingTaskSamplePercent < 70 ? startingNumberOfVMs : "
                   "avg($PendingTasks.GetSample(180 * TimeInterval_Second));\n",
                   plan->auto_pool_nodes, plan->config->max_nodes);
    if (slots > 1)
        buffer_appendf(out, "%s = min(maxNumberofVMs, (pendingTaskSamples + %ld) / %ld);\n",
                       target, slots - 1, slots);
    else
        buffer_appendf(out, "%s = min(maxNumberofVMs, pendingTaskSamples);\n", target);
    buffer_appendf(out, "%s = 0;\n$NodeDeallocationOption = taskcompletion;", other);
}

static void write_auto_pool(json_writer *w, const job_plan *plan)
{
    json_key(w, "autoPoolSpecification");
    json_object_begin(w);
    json_member_string(w, "autoPoolIdPrefix", "offload");
    json_member_string(w, "poolLifetimeOption", "job");
    json_member_bool(w, "keepAlive", false);
    json_key(w, "pool");
    json_object_begin(w);
    json_member_string(w, "vmSize", plan->config->vm_size);
    json_key(w, "virtualMachineConfiguration");
    json_object_begin(w);
    json_key(w, "imageReference"); /* publisher:offer:sku:version, checked by the config */
    json_object_begin(w);
    static const char *const parts[] = {"publisher", "offer", "sku", "version"};
    const char *field = plan->config->pool_image;
    for (size_t i = 0; i < 4; i++) {
        size_t len = strcspn(field, ":");
        json_key(w, parts[i]);
        json_string_n(w, field, len);
        field += len + (field[len] == ':');
    }
    json_object_end(w);
    json_member_string(w, "nodeAgentSKUId", plan->config->node_agent_sku);
    json_key(w, "containerConfiguration");
    json_object_begin(w);
    json_member_string(w, "type", "dockerCompatible");
    json_key(w, "containerImageNames"); /* prefetched on every node */
    json_array_begin(w);
    json_string(w, plan->worker.image);
    if (plan->has_aggregator && strcmp(plan->aggregator.image, plan->worker.image) != 0)
        json_string(w, plan->aggregator.image);
    json_array_end(w);
    if (plan->worker.has_registry || (plan->has_aggregator && plan->aggregator.has_registry)) {
        json_key(w, "containerRegistries");
        json_array_begin(w);
        if (plan->worker.has_registry)
            write_registry(w, &plan->worker.registry);
        if (plan->has_aggregator && plan->aggregator.has_registry &&
            !(plan->worker.has_registry &&
              strcmp(plan->worker.registry.server, plan->aggregator.registry.server) == 0))
            write_registry(w, &plan->aggregator.registry);
        json_array_end(w);
    }
    json_object_end(w);
    json_object_end(w);
    json_member_int(w, "taskSlotsPerNode", plan->config->task_slots_per_node);
    json_key(w, "taskSchedulingPolicy");
    json_object_begin(w);
    json_member_string(w, "nodeFillType", plan->config->node_fill_type);
    json_object_end(w);
    json_member_bool(w, "enableAutoScale", true);
    buffer formula;
    buffer_init(&formula, 0);
    batch_autoscale_formula(plan, &formula);
    json_member_string(w, "autoScaleFormula", buffer_cstr(&formula));
    buffer_free(&formula);
    json_member_string(w, "autoScaleEvaluationInterval", AUTOSCALE_EVALUATION_INTERVAL);
    json_object_end(w);
    json_object_end(w);
}

void batch_job_create_body(const job_plan *plan, buffer *out)
{
    const offloader_config *c = plan->config;
    json_writer w;
    json_writer_init(&w, out);
    json_object_begin(&w);
    json_member_string(&w, "id", c->job_id);
    json_member_string(&w, "displayName", plan->display_name);
    json_member_bool(&w, "usesTaskDependencies", true);
    json_member_string(&w, "onAllTasksComplete", "noaction");
    json_member_string(&w, "onTaskFailure", "performexitoptionsjobaction");
    if (plan->max_parallel_tasks > 0)
        json_member_int(&w, "maxParallelTasks", plan->max_parallel_tasks);
    json_key(&w, "constraints");
    json_object_begin(&w);
    if (plan->max_wall_clock_seconds > 0) {
        char duration[32];
        clock_iso8601_duration(plan->max_wall_clock_seconds, duration);
        json_member_string(&w, "maxWallClockTime", duration);
    }
    json_member_int(&w, "maxTaskRetryCount", plan->max_task_retry_count);
    json_object_end(&w);
    write_env(&w, "commonEnvironmentSettings", &plan->job_env);
    json_key(&w, "poolInfo");
    json_object_begin(&w);
    if (c->pool_id)
        json_member_string(&w, "poolId", c->pool_id);
    else
        write_auto_pool(&w, plan);
    json_object_end(&w);
    write_metadata(&w, plan);
    json_object_end(&w);
}

void batch_job_finish_when_done_body(buffer *out)
{
    json_writer w;
    json_writer_init(&w, out);
    json_object_begin(&w);
    json_member_string(&w, "onAllTasksComplete", "terminatejob");
    json_object_end(&w);
}

void batch_job_terminate_body(const char *reason, buffer *out)
{
    json_writer w;
    json_writer_init(&w, out);
    json_object_begin(&w);
    json_member_string(&w, "terminateReason", reason);
    json_object_end(&w);
}

static void write_container_settings(json_writer *w, const task_plan *t)
{
    json_key(w, "containerSettings");
    json_object_begin(w);
    json_member_string(w, "imageName", t->image);
    if (t->run_options.len)
        json_member_string(w, "containerRunOptions", buffer_cstr(&t->run_options));
    if (t->has_registry) {
        json_key(w, "registry");
        write_registry(w, &t->registry);
    }
    json_object_end(w);
}

static void write_upload(json_writer *w, const storage_plan *s, const char *pattern,
                         const char *blob_path, const char *condition)
{
    buffer url;
    buffer_init(&url, 0);
    buffer_appendf(&url, "%s?%s", buffer_cstr(&s->container_url), buffer_cstr(&s->write_sas));
    json_object_begin(w);
    json_member_string(w, "filePattern", pattern);
    json_key(w, "destination");
    json_object_begin(w);
    json_key(w, "container");
    json_object_begin(w);
    json_member_string(w, "containerUrl", buffer_cstr(&url));
    json_member_string(w, "path", blob_path);
    json_object_end(w);
    json_object_end(w);
    json_key(w, "uploadOptions");
    json_object_begin(w);
    json_member_string(w, "uploadCondition", condition);
    json_object_end(w);
    json_object_end(w);
    buffer_free(&url);
}

/* Inputs (the blobs under inputs, a "<prefix>/<part>" path; NULL: none)
 * downloaded before the task runs; results uploaded when it succeeded;
 * stdout.txt and stderr.txt (in the task directory, one above the working
 * directory) uploaded however it ended. With no inputs there is no
 * resourceFiles entry at all: the spec does not say that a blobPrefix
 * matching nothing is harmless, so none is sent. */
static void write_task_files(json_writer *w, const job_plan *plan, const char *task_id,
                             const char *inputs, const char *output_part)
{
    const storage_plan *s = &plan->storage;
    const char *prefix = buffer_cstr(&s->prefix);
    buffer text;
    buffer_init(&text, 0);
    if (inputs) {
        json_key(w, "resourceFiles");
        json_array_begin(w);
        json_object_begin(w);
        buffer_appendf(&text, "%s?%s", buffer_cstr(&s->container_url),
                       buffer_cstr(&s->read_sas));
        json_member_string(w, "storageContainerUrl", buffer_cstr(&text));
        buffer_reset(&text);
        buffer_appendf(&text, "%s/", inputs);
        json_member_string(w, "blobPrefix", buffer_cstr(&text));
        json_member_string(w, "filePath", TASK_INPUT_DIR);
        json_object_end(w);
        json_array_end(w);
    }
    json_key(w, "outputFiles");
    json_array_begin(w);
    buffer_reset(&text);
    buffer_appendf(&text, "%s/%s", prefix, output_part);
    write_upload(w, s, TASK_OUTPUT_DIR "/**/*", buffer_cstr(&text), "tasksuccess");
    static const char *const logs[] = {"stdout.txt", "stderr.txt"};
    for (size_t i = 0; i < 2; i++) {
        buffer pattern;
        buffer_init(&pattern, 0);
        buffer_appendf(&pattern, "../%s", logs[i]);
        buffer_reset(&text);
        buffer_appendf(&text, "%s/logs/%s/%s", prefix, task_id, logs[i]);
        write_upload(w, s, buffer_cstr(&pattern), buffer_cstr(&text), "taskcompletion");
        buffer_free(&pattern);
    }
    json_array_end(w);
    buffer_free(&text);
}

/* Task environment, on top of the job's: name=value (if name is not NULL)
 * and, with storage, where the inputs are (inputs, as for write_task_files;
 * the directory is absent when there are none) and where results go. */
static void write_task_env(json_writer *w, const job_plan *plan, const char *name,
                           const char *value, const char *inputs)
{
    if (!name && !plan->storage.enabled)
        return;
    json_key(w, "environmentSettings");
    json_array_begin(w);
    if (name) {
        json_object_begin(w);
        json_member_string(w, "name", name);
        json_member_string(w, "value", value);
        json_object_end(w);
    }
    if (plan->storage.enabled) {
        buffer dir;
        buffer_init(&dir, 0);
        buffer_appendf(&dir, TASK_INPUT_DIR "/%s", inputs);
        json_object_begin(w);
        json_member_string(w, "name", "BATCH_OFFLOAD_INPUT_DIR");
        json_member_string(w, "value", buffer_cstr(&dir));
        json_object_end(w);
        json_object_begin(w);
        json_member_string(w, "name", "BATCH_OFFLOAD_OUTPUT_DIR");
        json_member_string(w, "value", TASK_OUTPUT_DIR);
        json_object_end(w);
        buffer_free(&dir);
    }
    json_array_end(w);
}

static void write_constraints(json_writer *w, const job_plan *plan)
{
    json_key(w, "constraints");
    json_object_begin(w);
    json_member_int(w, "maxTaskRetryCount", plan->max_task_retry_count);
    json_object_end(w);
}

/* A task that fails after its retries ends the job (the job's onTaskFailure
 * is performexitoptionsjobaction): the aggregator's failure is the Job's. */
static void write_failure_ends_the_job(json_writer *w)
{
    json_key(w, "exitConditions");
    json_object_begin(w);
    json_key(w, "default");
    json_object_begin(w);
    json_member_string(w, "jobAction", "terminate");
    json_object_end(w);
    json_object_end(w);
}

static void write_job_action(json_writer *w, exit_code_effect effect)
{
    json_key(w, "exitOptions");
    json_object_begin(w);
    json_member_string(w, "jobAction", effect == EXIT_ENDS_JOB ? "terminate" : "none");
    json_object_end(w);
}

/* A worker's failure after its retries: the Job's failure policy (job_policy.h)
 * says whether it ends the job or only its index; the podFailurePolicy's
 * exit codes that say otherwise are listed, single codes apart from ranges. */
static void write_worker_exit_conditions(json_writer *w, const job_policy *policy)
{
    json_key(w, "exitConditions");
    json_object_begin(w);
    for (int ranges = 0; ranges < 2; ranges++) {
        bool opened = false;
        for (size_t i = 0; i < policy->span_count; i++) {
            const exit_code_span *s = &policy->spans[i];
            if ((s->start != s->end) != ranges)
                continue;
            if (!opened) {
                json_key(w, ranges ? "exitCodeRanges" : "exitCodes");
                json_array_begin(w);
                opened = true;
            }
            json_object_begin(w);
            if (ranges) {
                json_member_int(w, "start", s->start);
                json_member_int(w, "end", s->end);
            } else {
                json_member_int(w, "code", s->start);
            }
            write_job_action(w, s->effect);
            json_object_end(w);
        }
        if (opened)
            json_array_end(w);
    }
    json_key(w, "default");
    json_object_begin(w);
    json_member_string(w, "jobAction", policy->default_effect == EXIT_ENDS_JOB ? "terminate"
                                                                              : "none");
    json_object_end(w);
    json_object_end(w);
}

void batch_worker_task_write(const job_plan *plan, long index, json_writer *w)
{
    char id[24];
    snprintf(id, sizeof(id), "%ld", index);
    task_plan scratch;
    const task_plan *worker = job_plan_worker_task(plan, index, &scratch);
    if (!worker) {
        w->failed = true;
        return;
    }
    json_object_begin(w);
    json_member_string(w, "id", id);
    json_member_string(w, "commandLine", buffer_cstr(&worker->command_line));
    write_container_settings(w, worker);
    if (worker == &scratch)
        task_plan_free(&scratch);
    /* A container that sets JOB_COMPLETION_INDEX itself keeps its own value,
     * as on Kubernetes. */
    bool own_index = env_list_get(&plan->job_env, COMPLETION_INDEX_VARIABLE) != NULL;
    buffer inputs;
    buffer_init(&inputs, 0);
    buffer_appendf(&inputs, "%s/input", buffer_cstr(&plan->storage.input_prefix));
    write_task_env(w, plan, own_index ? NULL : COMPLETION_INDEX_VARIABLE, id,
                   buffer_cstr(&inputs));
    if (plan->storage.enabled) {
        char output_part[40];
        snprintf(output_part, sizeof(output_part), "output/%s", id);
        write_task_files(w, plan, id, plan->storage.has_inputs ? buffer_cstr(&inputs) : NULL,
                         output_part);
    }
    buffer_free(&inputs);
    write_constraints(w, plan);
    write_worker_exit_conditions(w, &plan->policy);
    json_object_end(w);
}

void batch_aggregator_task_write(const job_plan *plan, json_writer *w)
{
    json_object_begin(w);
    json_member_string(w, "id", AGGREGATOR_TASK_ID);
    json_member_string(w, "commandLine", buffer_cstr(&plan->aggregator.command_line));
    write_container_settings(w, &plan->aggregator);
    /* Its inputs are this run's workers' outputs, under BLOBPREFIX alone: a
     * CronJob's earlier runs keep theirs under prefixes of their own. */
    buffer inputs;
    buffer_init(&inputs, 0);
    buffer_appendf(&inputs, "%s/output", buffer_cstr(&plan->storage.prefix));
    write_task_env(w, plan, NULL, NULL, buffer_cstr(&inputs));
    if (plan->storage.enabled)
        write_task_files(w, plan, AGGREGATOR_TASK_ID, buffer_cstr(&inputs), "output/aggregate");
    buffer_free(&inputs);
    /* Runs once every worker succeeded: ids are plain integers so one range
     * covers them all (a list of ids breaks the 64 KB limit at large N). */
    json_key(w, "dependsOn");
    json_object_begin(w);
    json_key(w, "taskIdRanges");
    json_array_begin(w);
    json_object_begin(w);
    json_member_int(w, "start", 0);
    json_member_int(w, "end", plan->completions - 1);
    json_object_end(w);
    json_array_end(w);
    json_object_end(w);
    write_constraints(w, plan);
    write_failure_ends_the_job(w);
    json_object_end(w);
}
