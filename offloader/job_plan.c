/* The Batch plan for a Kubernetes Job; see job_plan.h.
 *
 * Job fields the webhook carried in WORKERSPEC map to Batch settings through
 * one table (job_field_mappings). The container becomes a task: `command`
 * overrides the image's ENTRYPOINT, which on Batch is a `docker create
 * --entrypoint` option, because a container task's command line replaces
 * the image's CMD; `args` (or the rest of `command`) is that command line.
 * Both are expanded with $(VAR) as the kubelet would, then quoted. */
#include "job_plan.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command_line.h"
#include "json_reader.h"

typedef bool (*field_mapper)(job_plan *plan, int64_t value, buffer *errors);

static bool map_parallelism(job_plan *plan, int64_t value, buffer *errors)
{
    if (value == 0) {
        buffer_append_str(errors, "WORKERSPEC: parallelism 0 would run nothing\n");
        return false;
    }
    /* At least as many as there are tasks: no limit to state. */
    plan->max_parallel_tasks = value > plan->completions ? -1 : value;
    return true;
}

static bool map_retries(job_plan *plan, int64_t value, buffer *errors)
{
    (void)errors;
    plan->max_task_retry_count = value >= INT32_MAX ? -1 : value;
    return true;
}

static bool map_deadline(job_plan *plan, int64_t value, buffer *errors)
{
    (void)errors;
    plan->max_wall_clock_seconds = value;
    return true;
}

/* Kubernetes Job field -> Batch setting. Later rows win: backoffLimitPerIndex
 * (retries per index, i.e. per task) is the closer match to Batch's
 * per-task retry count than backoffLimit (failures across the whole Job). */
static const struct {
    const char *field;
    int64_t min, max;
    field_mapper map;
} job_field_mappings[] = {
    {"parallelism", 0, INT32_MAX, map_parallelism},         /* job.maxParallelTasks */
    {"backoffLimit", 0, INT32_MAX, map_retries},            /* task maxTaskRetryCount */
    {"backoffLimitPerIndex", 0, INT32_MAX, map_retries},    /* task maxTaskRetryCount */
    {"activeDeadlineSeconds", 1, INT64_MAX / 2, map_deadline}, /* job maxWallClockTime */
};

static bool apply_job_fields(job_plan *plan, const worker_spec *spec, buffer *errors)
{
    for (size_t i = 0; i < sizeof(job_field_mappings) / sizeof(job_field_mappings[0]); i++) {
        int token = json_object_get(&spec->doc, 0, job_field_mappings[i].field);
        if (token < 0 || json_type_of(&spec->doc, token) == JSON_NULL)
            continue;
        int64_t value;
        if (!json_read_int64(&spec->doc, token, job_field_mappings[i].min,
                             job_field_mappings[i].max, &value)) {
            buffer_appendf(errors, "WORKERSPEC: %s must be a whole number from %lld\n",
                           job_field_mappings[i].field, (long long)job_field_mappings[i].min);
            return false;
        }
        if (!job_field_mappings[i].map(plan, value, errors))
            return false;
    }
    return true;
}

static void append_option(buffer *out, const char *option, const char *value)
{
    command_line_append_word(out, option);
    command_line_append_word(out, value);
}

/* The worker task's command line and docker options: command, args (with
 * $(VAR) expanded against env), working directory and limits. */
static bool plan_worker(task_plan *w, const worker_spec *spec, const env_list *env)
{
    buffer word;
    buffer_init(&word, 0);
    for (size_t i = 0; i < spec->command.count + spec->args.count; i++) {
        const char *raw = i < spec->command.count ? spec->command.items[i]
                                                  : spec->args.items[i - spec->command.count];
        buffer_reset(&word);
        kubelet_expand(raw, env, &word);
        if (i == 0 && spec->command.count > 0)
            append_option(&w->run_options, "--entrypoint", buffer_cstr(&word));
        else
            command_line_append_word(&w->command_line, buffer_cstr(&word));
    }
    buffer_free(&word);
    if (spec->working_dir)
        append_option(&w->run_options, "--workdir", spec->working_dir);
    if (spec->cpu_limit > 0) {
        char cpus[32];
        snprintf(cpus, sizeof(cpus), "%g", spec->cpu_limit);
        append_option(&w->run_options, "--cpus", cpus);
    }
    if (spec->memory_limit > 0) {
        char bytes[32];
        snprintf(bytes, sizeof(bytes), "%.0f", ceil(spec->memory_limit));
        append_option(&w->run_options, "--memory", bytes);
    }
    return buffer_ok(&w->command_line) && buffer_ok(&w->run_options);
}

/* The Job controller gives an Indexed pod JOB_COMPLETION_INDEX after the
 * container's own env, unless the container sets it itself; every worker
 * task has it. Only command and args can see it, since env entries are
 * expanded against the ones before them. */
static bool varies_by_index(const worker_spec *spec)
{
    if (env_list_get(&spec->env, COMPLETION_INDEX_VARIABLE))
        return false;
    const char *reference = "$(" COMPLETION_INDEX_VARIABLE ")";
    for (size_t i = 0; i < spec->command.count + spec->args.count; i++) {
        const char *raw = i < spec->command.count ? spec->command.items[i]
                                                  : spec->args.items[i - spec->command.count];
        if (strstr(raw, reference))
            return true;
    }
    return false;
}

const task_plan *job_plan_worker_task(const job_plan *plan, long index, task_plan *scratch)
{
    if (!plan->worker_varies_by_index)
        return &plan->worker;
    char name[] = COMPLETION_INDEX_VARIABLE;
    char value[24];
    snprintf(value, sizeof(value), "%ld", index);
    env_var variable = {name, value};
    const env_list env = {&variable, 1, 1, &plan->spec->env};
    *scratch = plan->worker;
    buffer_init(&scratch->command_line, 0);
    buffer_init(&scratch->run_options, 0);
    if (plan_worker(scratch, plan->spec, &env))
        return scratch;
    task_plan_free(scratch);
    return NULL;
}

void task_plan_free(task_plan *task)
{
    buffer_free(&task->command_line);
    buffer_free(&task->run_options);
}

static bool plan_aggregator(job_plan *plan, buffer *errors)
{
    const char *args = plan->config->aggregator_args;
    if (!args)
        return true;
    json_document doc;
    char error[64];
    string_list words = {0};
    bool ok = json_document_parse(&doc, args, strlen(args), JSON_TOKENS_FOR_A_VALUE, error,
                                  sizeof(error)) &&
              string_list_from_json(&words, &doc, 0);
    if (ok) {
        json_document_free(&doc);
        for (size_t i = 0; i < words.count; i++) {
            buffer expanded;
            buffer_init(&expanded, 0);
            kubelet_expand(words.items[i], &plan->job_env, &expanded);
            command_line_append_word(&plan->aggregator.command_line, buffer_cstr(&expanded));
            buffer_free(&expanded);
        }
    } else {
        buffer_append_str(errors, "AGGREGATORARGS: must be a JSON array of strings\n");
    }
    string_list_free(&words);
    return ok;
}

/* Batch gives a container task every GPU of its node by itself (it refuses
 * --gpus in containerRunOptions: docs/azure-facts.md section 7), so tasks
 * sharing a node would share its GPUs: a GPU Job's auto pool runs one task
 * per node, its VM size giving each task that node's GPUs. */
static bool check_gpu_nodes(const offloader_config *config, const worker_spec *spec,
                            buffer *errors)
{
    if (spec->gpus == 0 || config->pool_id || config->task_slots_per_node <= 1)
        return true;
    buffer_appendf(errors,
                   OFFLOAD_ENV_TASK_SLOTS_PER_NODE " is %ld, but the worker asks for %ld "
                   OFFLOAD_GPU_RESOURCE ": Batch gives each container task every GPU of its "
                   "node, so an auto pool for GPUs runs one task per node (leave it unset)\n",
                   config->task_slots_per_node, spec->gpus);
    return false;
}

bool job_plan_build(job_plan *plan, const offloader_config *config, const worker_spec *spec,
                    char **environ_list, buffer *errors)
{
    memset(plan, 0, sizeof(*plan));
    if (!check_gpu_nodes(config, spec, errors))
        return false;
    plan->config = config;
    plan->spec = spec;
    plan->completions = config->completions;
    plan->max_parallel_tasks = -1;
    plan->max_wall_clock_seconds = -1;
    plan->max_task_retry_count = 0;
    buffer_init(&plan->worker.command_line, 0);
    buffer_init(&plan->worker.run_options, 0);
    buffer_init(&plan->aggregator.command_line, 0);
    buffer_init(&plan->aggregator.run_options, 0);
    storage_plan_init(&plan->storage);
    if (config->namespace_name && config->job_name)
        snprintf(plan->display_name, sizeof(plan->display_name), "%s/%s", config->namespace_name,
                 config->job_name);
    else
        snprintf(plan->display_name, sizeof(plan->display_name), "%s", config->job_id);
    for (size_t i = 0; i < spec->env.count; i++)
        if (!env_list_set(&plan->job_env, spec->env.items[i].name, spec->env.items[i].value)) {
            job_plan_free(plan);
            return false;
        }
    /* Every task can tell how many workers share the work (a worker picks
     * its shard with JOB_COMPLETION_INDEX of BATCH_OFFLOAD_WORKER_COUNT). */
    char workers[24];
    snprintf(workers, sizeof(workers), "%ld", config->completions);
    if (!env_list_set(&plan->job_env, "BATCH_OFFLOAD_WORKER_COUNT", workers)) {
        job_plan_free(plan);
        return false;
    }
    plan->worker.image = config->worker_image;
    plan->worker.has_registry =
        registry_credentials_for(config, config->worker_image, environ_list,
                                 &plan->worker.registry);
    if (config->aggregator_image) {
        plan->has_aggregator = true;
        plan->aggregator.image = config->aggregator_image;
        plan->aggregator.has_registry =
            registry_credentials_for(config, config->aggregator_image, environ_list,
                                     &plan->aggregator.registry);
    }
    plan->dedicated_nodes = config->priority && strcmp(config->priority, "dedicated") == 0;
    /* Enough nodes for every worker at once (a node runs task_slots_per_node
     * of them), up to the cap. */
    long slots = config->task_slots_per_node > 1 ? config->task_slots_per_node : 1;
    long nodes = (config->completions + slots - 1) / slots;
    plan->auto_pool_nodes = nodes < config->max_nodes ? nodes : config->max_nodes;
    /* Storage is laid out and signed for the account the job goes to, when
     * the run knows which (offload_run.c). */
    plan->worker_varies_by_index = varies_by_index(spec);
    if (apply_job_fields(plan, spec, errors) && plan_worker(&plan->worker, spec, &spec->env) &&
        plan_aggregator(plan, errors) &&
        job_policy_read(&plan->policy, &spec->doc, plan->completions, errors)) {
        if (!plan->has_aggregator || plan->policy.success_count == 0)
            return true;
        buffer_append_str(errors, "WORKERSPEC: successPolicy cannot be used with an aggregator "
                                  "(AGGREGATORIMAGENAME): it runs once every worker succeeded\n");
    }
    job_plan_free(plan); /* a failed build leaves nothing to free */
    return false;
}

long job_plan_worker_index(const char *task_id, long workers)
{
    if (task_id[0] < '0' || task_id[0] > '9')
        return -1;
    char *end;
    errno = 0;
    long index = strtol(task_id, &end, 10);
    return *end || errno || index >= workers ? -1 : index;
}

void job_plan_free(job_plan *plan)
{
    storage_plan_free(&plan->storage);
    env_list_free(&plan->job_env);
    task_plan_free(&plan->worker);
    task_plan_free(&plan->aggregator);
    job_policy_free(&plan->policy);
    memset(&plan->worker.registry, 0, sizeof(plan->worker.registry));
    memset(&plan->aggregator.registry, 0, sizeof(plan->aggregator.registry));
}
