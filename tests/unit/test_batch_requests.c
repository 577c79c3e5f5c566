/* The Batch request bodies (offloader/batch_requests.c) built from a real
 * configuration (the environment, as in the offloader pod) and worker spec:
 * the job on a pool and on an auto pool, its autoscale formula, worker and
 * aggregator tasks, and the small update bodies. */
#include "test_support.h"

#include "batch_requests.h"
#include "job_plan.h"
#include "offloader_config.h"
#include "redact.h"
#include "storage_plan.h"
#include "worker_spec.h"

typedef struct built {
    offloader_config config;
    worker_spec spec;
    job_plan plan;
    json_document doc;
    buffer body;
} built;

static int clean_environment(void **state)
{
    (void)state;
    set_minimal_offloader_environment();
    setenv("COMPLETIONS", "7", 1);
    return 0;
}

static int forget(void **state)
{
    (void)state;
    redact_forget_secrets();
    return 0;
}

static void build(built *b)
{
    buffer errors;
    buffer_init(&errors, 0);
    extern char **environ;
    if (!offloader_config_load(&b->config, CONFIG_FOR_WORK, &errors) ||
        !worker_spec_read(&b->spec, b->config.worker_spec, environ, &errors) ||
        !job_plan_build(&b->plan, &b->config, &b->spec, environ, &errors))
        fail_msg("refused: %s", buffer_cstr(&errors));
    buffer_free(&errors);
    buffer_init(&b->body, 0);
}

static void parse_body(built *b)
{
    parse_or_fail(&b->doc, b->body.data, b->body.len);
}

static void release(built *b)
{
    json_document_free(&b->doc);
    buffer_free(&b->body);
    job_plan_free(&b->plan);
    worker_spec_free(&b->spec);
    offloader_config_free(&b->config);
}

static void assert_string_at(const json_document *doc, int token, const char *expected)
{
    char *s = json_string_dup(doc, token);
    if (!s || strcmp(s, expected) != 0)
        fail_msg("expected \"%s\", got \"%s\"", expected, s ? s : "(none)");
    free(s);
}

static int64_t int_at(const json_document *doc, int token)
{
    int64_t v = 0;
    assert_true(json_read_int64(doc, token, INT64_MIN, INT64_MAX, &v));
    return v;
}

static void test_job_on_a_pool_maps_the_job_fields(void **state)
{
    (void)state;
    setenv("POOLID", "pool-a", 1);
    setenv("WORKERSPEC", "{\"parallelism\":3,\"backoffLimit\":4,\"activeDeadlineSeconds\":5400,"
                         "\"container\":{\"env\":[{\"name\":\"MODE\",\"value\":\"fast\"}]}}", 1);
    built b;
    build(&b);
    batch_job_create_body(&b.plan, &b.body);
    parse_body(&b);
    const json_document *d = &b.doc;
    assert_string_at(d, json_object_get(d, 0, "id"), "k8s-0b7d5f4c");
    assert_true(json_is_true(d, json_object_get(d, 0, "usesTaskDependencies")));
    /* "noaction" until every task is in: an early end would drop the rest */
    assert_string_at(d, json_object_get(d, 0, "onAllTasksComplete"), "noaction");
    assert_string_at(d, json_object_get(d, 0, "onTaskFailure"), "performexitoptionsjobaction");
    assert_int_equal(int_at(d, json_object_get(d, 0, "maxParallelTasks")), 3);
    assert_string_at(d, json_lookup(d, 0, "constraints", "maxWallClockTime", NULL), "PT5400S");
    assert_int_equal(int_at(d, json_lookup(d, 0, "constraints", "maxTaskRetryCount", NULL)), 4);
    assert_string_at(d, json_lookup(d, 0, "poolInfo", "poolId", NULL), "pool-a");
    assert_int_equal(json_lookup(d, 0, "poolInfo", "autoPoolSpecification", NULL), -1);
    /* the worker's environment for every task, and how many workers share the work */
    int env = json_object_get(d, 0, "commonEnvironmentSettings");
    assert_int_equal(json_length(d, env), 2);
    assert_string_at(d, json_object_get(d, env + 1, "name"), "MODE");
    assert_string_at(d, json_object_get(d, env + 1, "value"), "fast");
    int second = json_next(d, env + 1);
    assert_string_at(d, json_object_get(d, second, "name"), "BATCH_OFFLOAD_WORKER_COUNT");
    assert_string_at(d, json_object_get(d, second, "value"), "7");
    release(&b);
}

static void test_job_on_an_auto_pool(void **state)
{
    (void)state;
    setenv("PRIORITY", "dedicated", 1);
    setenv("VMSIZE", "Standard_D4s_v3", 1);
    setenv("AGGREGATORIMAGENAME", "registry.example.com/team/sum:2", 1);
    setenv("REGISTRYNAME", "registry.example.com", 1);
    setenv("REGISTRYUSERNAME", "robot", 1);
    setenv("REGISTRYPASSWORD", "made-up-registry-password", 1);
    setenv("BATCH_OFFLOAD_TASK_SLOTS_PER_NODE", "2", 1);
    setenv("BATCH_OFFLOAD_NODE_FILL_TYPE", "pack", 1);
    setenv("BATCH_OFFLOAD_MAX_NODES", "3", 1);
    built b;
    build(&b);
    batch_job_create_body(&b.plan, &b.body);
    parse_body(&b);
    const json_document *d = &b.doc;
    int spec = json_lookup(d, 0, "poolInfo", "autoPoolSpecification", NULL);
    assert_string_at(d, json_object_get(d, spec, "poolLifetimeOption"), "job");
    int pool = json_object_get(d, spec, "pool");
    assert_string_at(d, json_object_get(d, pool, "vmSize"), "Standard_D4s_v3");
    int vm = json_object_get(d, pool, "virtualMachineConfiguration");
    int image = json_object_get(d, vm, "imageReference");
    assert_string_at(d, json_object_get(d, image, "publisher"), "microsoft-dsvm");
    assert_string_at(d, json_object_get(d, image, "offer"), "ubuntu-hpc");
    assert_string_at(d, json_object_get(d, image, "sku"), "2204");
    assert_string_at(d, json_object_get(d, image, "version"), "latest");
    assert_string_at(d, json_object_get(d, vm, "nodeAgentSKUId"), "batch.node.ubuntu 22.04");
    int containers = json_object_get(d, vm, "containerConfiguration");
    assert_string_at(d, json_object_get(d, containers, "type"), "dockerCompatible");
    int names = json_object_get(d, containers, "containerImageNames");
    assert_int_equal(json_length(d, names), 2);
    assert_string_at(d, names + 1, "registry.example.com/team/worker:1");
    assert_string_at(d, names + 2, "registry.example.com/team/sum:2");
    int registries = json_object_get(d, containers, "containerRegistries");
    assert_int_equal(json_length(d, registries), 1); /* one registry serves both images */
    assert_string_at(d, json_object_get(d, registries + 1, "registryServer"),
                     "registry.example.com");
    assert_string_at(d, json_object_get(d, registries + 1, "username"), "robot");
    assert_int_equal(int_at(d, json_object_get(d, pool, "taskSlotsPerNode")), 2);
    assert_string_at(d, json_lookup(d, pool, "taskSchedulingPolicy", "nodeFillType", NULL),
                     "pack");
    assert_true(json_is_true(d, json_object_get(d, pool, "enableAutoScale")));
    /* seven workers, two slots a node: four nodes, capped at three */
    assert_string_at(d, json_object_get(d, pool, "autoScaleFormula"),
                     "startingNumberOfVMs = 3;\n"
                     "maxNumberofVMs = 3;\n"
                     "pendingTaskSamplePercent = $PendingTasks.GetSamplePercent(180 * "
                     "TimeInterval_Second);\n"
                     "pendingTaskSamples = pendingTaskSamplePercent < 70 ? startingNumberOfVMs : "
                     "avg($PendingTasks.GetSample(180 * TimeInterval_Second));\n"
                     "$TargetDedicatedNodes = min(maxNumberofVMs, (pendingTaskSamples + 1) / 2);\n"
                     "$TargetLowPriorityNodes = 0;\n"
                     "$NodeDeallocationOption = taskcompletion;");
    release(&b);
}

static void test_autoscale_formula_for_spot_and_the_platforms_own(void **state)
{
    (void)state;
    built b;
    build(&b);
    batch_autoscale_formula(&b.plan, &b.body);
    assert_string_equal(buffer_cstr(&b.body),
                        "startingNumberOfVMs = 7;\n"
                        "maxNumberofVMs = 20;\n"
                        "pendingTaskSamplePercent = $PendingTasks.GetSamplePercent(180 * "
                        "TimeInterval_Second);\n"
                        "pendingTaskSamples = pendingTaskSamplePercent < 70 ? "
                        "startingNumberOfVMs : "
                        "avg($PendingTasks.GetSample(180 * TimeInterval_Second));\n"
                        "$TargetLowPriorityNodes = min(maxNumberofVMs, pendingTaskSamples);\n"
                        "$TargetDedicatedNodes = 0;\n"
                        "$NodeDeallocationOption = taskcompletion;");
    buffer_free(&b.body);
    job_plan_free(&b.plan);
    worker_spec_free(&b.spec);
    offloader_config_free(&b.config);

    setenv("BATCH_OFFLOAD_AUTOSCALE_FORMULA", "$TargetLowPriorityNodes = 2;", 1);
    build(&b);
    batch_autoscale_formula(&b.plan, &b.body);
    assert_string_equal(buffer_cstr(&b.body), "$TargetLowPriorityNodes = 2;");
    buffer_free(&b.body);
    job_plan_free(&b.plan);
    worker_spec_free(&b.spec);
    offloader_config_free(&b.config);
}

/* A Spot fallback's formula: the default one on dedicated nodes, whatever formula
 * the platform gave the pool (that one was written for Spot). */
static void test_the_fallback_formula_asks_for_dedicated_nodes(void **state)
{
    (void)state;
    setenv("BATCH_OFFLOAD_AUTOSCALE_FORMULA", "$TargetLowPriorityNodes = 2;", 1);
    built b;
    build(&b);
    assert_false(b.plan.dedicated_nodes);
    batch_default_autoscale_formula(&b.plan, true, &b.body);
    const char *formula = buffer_cstr(&b.body);
    assert_non_null(strstr(formula, "$TargetDedicatedNodes = min(maxNumberofVMs, "
                                    "pendingTaskSamples);\n"));
    assert_non_null(strstr(formula, "$TargetLowPriorityNodes = 0;\n"));
    assert_null(strstr(formula, "$TargetLowPriorityNodes = 2"));
    buffer_free(&b.body);
    job_plan_free(&b.plan);
    worker_spec_free(&b.spec);
    offloader_config_free(&b.config);
}

static void write_worker(built *b, long index)
{
    buffer_reset(&b->body);
    json_writer w;
    json_writer_init(&w, &b->body);
    batch_worker_task_write(&b->plan, index, &w);
    assert_true(json_writer_finish(&w));
    parse_body(b);
}

static void test_worker_tasks(void **state)
{
    (void)state;
    setenv("WORKERSPEC", "{\"backoffLimit\":2,\"container\":{\"command\":[\"/bin/count\"],"
                         "\"args\":[\"--shard=$(JOB_COMPLETION_INDEX)\",\"two words\",\"it's\"],"
                         "\"workingDir\":\"/work\",\"resources\":{\"limits\":"
                         "{\"cpu\":\"500m\",\"memory\":\"1Gi\"}}}}", 1);
    built b;
    build(&b);
    write_worker(&b, 6);
    const json_document *d = &b.doc;
    assert_string_at(d, json_object_get(d, 0, "id"), "6");
    /* no shell reads it: quoted so the node agent's word splitting gives the words back */
    assert_string_at(d, json_object_get(d, 0, "commandLine"),
                     "--shard=6 'two words' 'it'\\''s'");
    int settings = json_object_get(d, 0, "containerSettings");
    assert_string_at(d, json_object_get(d, settings, "imageName"),
                     "registry.example.com/team/worker:1");
    assert_string_at(d, json_object_get(d, settings, "containerRunOptions"),
                     "--entrypoint /bin/count --workdir /work --cpus 0.5 --memory 1073741824");
    int env = json_object_get(d, 0, "environmentSettings");
    assert_string_at(d, json_object_get(d, env + 1, "name"), "JOB_COMPLETION_INDEX");
    assert_string_at(d, json_object_get(d, env + 1, "value"), "6");
    assert_int_equal(int_at(d, json_lookup(d, 0, "constraints", "maxTaskRetryCount", NULL)), 2);
    /* a worker that fails after its retries ends the job */
    assert_string_at(d, json_lookup(d, 0, "exitConditions", "default", "jobAction", NULL),
                     "terminate");
    json_document_free(&b.doc);
    write_worker(&b, 0);
    assert_string_at(&b.doc, json_object_get(&b.doc, 0, "commandLine"),
                     "--shard=0 'two words' 'it'\\''s'");
    release(&b);
}

#define GPU_WORKER                                                                         \
    "{\"container\":{\"resources\":{\"limits\":{\"nvidia.com/gpu\":\"2\",\"cpu\":\"6\"}}}}"

/* A GPU worker's task asks docker for nothing more (Batch gives a container
 * task its node's GPUs itself and refuses --gpus); its auto pool has the
 * GPU VM size and one task per node. */
static void test_gpu_workers_get_their_nodes_gpus(void **state)
{
    (void)state;
    setenv("WORKERSPEC", GPU_WORKER, 1);
    setenv("VMSIZE", "Standard_NC12s_v3", 1);
    built b;
    build(&b);
    assert_int_equal(b.spec.gpus, 2);
    batch_job_create_body(&b.plan, &b.body);
    parse_body(&b);
    int pool = json_lookup(&b.doc, 0, "poolInfo", "autoPoolSpecification", "pool", NULL);
    assert_string_at(&b.doc, json_object_get(&b.doc, pool, "vmSize"), "Standard_NC12s_v3");
    assert_int_equal(int_at(&b.doc, json_object_get(&b.doc, pool, "taskSlotsPerNode")), 1);
    json_document_free(&b.doc);
    write_worker(&b, 0);
    int settings = json_object_get(&b.doc, 0, "containerSettings");
    assert_string_at(&b.doc, json_object_get(&b.doc, settings, "containerRunOptions"),
                     "--cpus 6");
    release(&b);
}

/* Tasks sharing a node would share its GPUs: a GPU auto pool of several
 * task slots is refused, naming the variable; a pool of the platform's is its own. */
static void test_gpu_auto_pools_run_one_task_per_node(void **state)
{
    (void)state;
    setenv("WORKERSPEC", GPU_WORKER, 1);
    setenv("BATCH_OFFLOAD_TASK_SLOTS_PER_NODE", "4", 1);
    offloader_config config;
    worker_spec spec;
    job_plan plan;
    buffer errors;
    buffer_init(&errors, 0);
    extern char **environ;
    assert_true(offloader_config_load(&config, CONFIG_FOR_WORK, &errors));
    assert_true(worker_spec_read(&spec, config.worker_spec, environ, &errors));
    assert_false(job_plan_build(&plan, &config, &spec, environ, &errors));
    assert_string_equal(buffer_cstr(&errors),
                        "BATCH_OFFLOAD_TASK_SLOTS_PER_NODE is 4, but the worker asks for 2 "
                        "nvidia.com/gpu: Batch gives each container task every GPU of its node, "
                        "so an auto pool for GPUs runs one task per node (leave it unset)\n");
    worker_spec_free(&spec);
    offloader_config_free(&config);
    buffer_free(&errors);
    setenv("POOLID", "gpu-pool", 1);
    built b;
    build(&b);
    release(&b);
}

static void test_aggregator_waits_for_every_worker(void **state)
{
    (void)state;
    setenv("AGGREGATORIMAGENAME", "registry.example.com/team/sum:2", 1);
    setenv("AGGREGATORARGS", "[\"sum\",\"--top\",\"10\"]", 1);
    built b;
    build(&b);
    json_writer w;
    json_writer_init(&w, &b.body);
    batch_aggregator_task_write(&b.plan, &w);
    assert_true(json_writer_finish(&w));
    parse_body(&b);
    const json_document *d = &b.doc;
    assert_string_at(d, json_object_get(d, 0, "id"), "aggregator");
    assert_string_at(d, json_object_get(d, 0, "commandLine"), "sum --top 10");
    assert_string_at(d, json_lookup(d, 0, "containerSettings", "imageName", NULL),
                     "registry.example.com/team/sum:2");
    /* one range, not seven ids: a list breaks the 64 KB limit at large N */
    int ranges = json_lookup(d, 0, "dependsOn", "taskIdRanges", NULL);
    assert_int_equal(json_length(d, ranges), 1);
    assert_int_equal(int_at(d, json_object_get(d, ranges + 1, "start")), 0);
    assert_int_equal(int_at(d, json_object_get(d, ranges + 1, "end")), 6);
    assert_int_equal(json_lookup(d, 0, "dependsOn", "taskIds", NULL), -1);
    release(&b);
}

/* The value of the name=value entry called name in the array at token, or -1. */
static int named_value(const json_document *d, int array, const char *name)
{
    json_iterator it = json_iterate(d, array);
    int item;
    while (json_iterator_next(&it, &item))
        if (json_string_equals(d, json_object_get(d, item, "name"), name))
            return json_object_get(d, item, "value");
    return -1;
}

static void write_aggregator(built *b)
{
    buffer_reset(&b->body);
    json_writer w;
    json_writer_init(&w, &b->body);
    batch_aggregator_task_write(&b->plan, &w);
    assert_true(json_writer_finish(&w));
    parse_body(b);
}

/* A CronJob's run: workers read the CronJob's inputs, and write outputs and
 * logs under the run's own prefix, where its aggregator reads them. */
static void storage_environment(void)
{
    setenv("STORAGEACCOUNT", "devstoreaccount1", 1);
    setenv("STORAGEKEY", TEST_BATCH_KEY, 1);
    setenv("BLOBENDPOINT", "http://127.0.0.1:10000/devstoreaccount1", 1);
    setenv("CONTAINER", "data", 1);
    setenv("BLOBPREFIX", "reports/nightly/runs/nightly-1", 1);
    setenv("INPUTPREFIX", "reports/nightly", 1);
    setenv("AGGREGATORIMAGENAME", "registry.example.com/team/sum:2", 1);
}

static void lay_out_storage(built *b)
{
    buffer errors;
    buffer_init(&errors, 0);
    storage_plan_layout(&b->plan.storage, &b->config, &b->config.primary);
    assert_true(storage_plan_sign_with_key(&b->plan.storage, &b->config, &b->config.primary, -1,
                                           &errors));
    buffer_free(&errors);
}

static void test_inputs_and_outputs_have_prefixes_of_their_own(void **state)
{
    (void)state;
    storage_environment();
    built b;
    build(&b);
    lay_out_storage(&b);
    write_worker(&b, 3);
    const json_document *d = &b.doc;
    int files = json_object_get(d, 0, "resourceFiles");
    assert_int_equal(json_length(d, files), 1);
    assert_string_at(d, json_object_get(d, files + 1, "blobPrefix"), "reports/nightly/input/");
    assert_string_at(d, named_value(d, json_object_get(d, 0, "environmentSettings"),
                                    "BATCH_OFFLOAD_INPUT_DIR"),
                     "input/reports/nightly/input");
    int uploads = json_object_get(d, 0, "outputFiles");
    assert_string_at(d, json_lookup(d, uploads + 1, "destination", "container", "path", NULL),
                     "reports/nightly/runs/nightly-1/output/3");
    int log = json_next(d, uploads + 1);
    assert_string_at(d, json_lookup(d, log, "destination", "container", "path", NULL),
                     "reports/nightly/runs/nightly-1/logs/3/stdout.txt");
    json_document_free(&b.doc);

    /* The aggregator reads this run's outputs only. */
    write_aggregator(&b);
    d = &b.doc;
    files = json_object_get(d, 0, "resourceFiles");
    assert_string_at(d, json_object_get(d, files + 1, "blobPrefix"),
                     "reports/nightly/runs/nightly-1/output/");
    assert_string_at(d, named_value(d, json_object_get(d, 0, "environmentSettings"),
                                    "BATCH_OFFLOAD_INPUT_DIR"),
                     "input/reports/nightly/runs/nightly-1/output");
    json_document_free(&b.doc);

    /* Inputs there: the job says nothing about them. */
    buffer_reset(&b.body);
    batch_job_create_body(&b.plan, &b.body);
    parse_body(&b);
    assert_int_equal(named_value(&b.doc, json_object_get(&b.doc, 0, "metadata"),
                                 "batch-offload.io/inputs"), -1);
    release(&b);
}

/* No input blobs: the workers get no resource files at all (nothing to
 * download), the rest as before, and the job records it for a later
 * offloader adding the remaining tasks. */
static void test_no_inputs_means_no_resource_files(void **state)
{
    (void)state;
    storage_environment();
    built b;
    build(&b);
    lay_out_storage(&b);
    b.plan.storage.has_inputs = false;
    write_worker(&b, 0);
    const json_document *d = &b.doc;
    assert_int_equal(json_object_get(d, 0, "resourceFiles"), -1);
    assert_int_equal(json_length(d, json_object_get(d, 0, "outputFiles")), 3);
    assert_string_at(d, named_value(d, json_object_get(d, 0, "environmentSettings"),
                                    "BATCH_OFFLOAD_INPUT_DIR"),
                     "input/reports/nightly/input");
    json_document_free(&b.doc);
    write_aggregator(&b); /* its inputs are the workers' outputs, there either way */
    assert_int_equal(json_length(&b.doc, json_object_get(&b.doc, 0, "resourceFiles")), 1);
    json_document_free(&b.doc);
    buffer_reset(&b.body);
    batch_job_create_body(&b.plan, &b.body);
    parse_body(&b);
    assert_string_at(&b.doc, named_value(&b.doc, json_object_get(&b.doc, 0, "metadata"),
                                         "batch-offload.io/inputs"),
                     "none");
    release(&b);
}

static void test_job_updates(void **state)
{
    (void)state;
    buffer body;
    buffer_init(&body, 0);
    batch_job_finish_when_done_body(&body);
    assert_string_equal(buffer_cstr(&body), "{\"onAllTasksComplete\":\"terminatejob\"}");
    buffer_reset(&body);
    batch_job_terminate_body("batch-offload: the \"Job\" was stopped", &body);
    assert_string_equal(buffer_cstr(&body),
                        "{\"terminateReason\":\"batch-offload: the \\\"Job\\\" was stopped\"}");
    buffer_free(&body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_job_on_a_pool_maps_the_job_fields,
                                        clean_environment, forget),
        cmocka_unit_test_setup_teardown(test_job_on_an_auto_pool, clean_environment, forget),
        cmocka_unit_test_setup_teardown(test_autoscale_formula_for_spot_and_the_platforms_own,
                                        clean_environment, forget),
        cmocka_unit_test_setup_teardown(test_the_fallback_formula_asks_for_dedicated_nodes,
                                        clean_environment, forget),
        cmocka_unit_test_setup_teardown(test_worker_tasks, clean_environment, forget),
        cmocka_unit_test_setup_teardown(test_gpu_workers_get_their_nodes_gpus, clean_environment,
                                        forget),
        cmocka_unit_test_setup_teardown(test_gpu_auto_pools_run_one_task_per_node,
                                        clean_environment, forget),
        cmocka_unit_test_setup_teardown(test_aggregator_waits_for_every_worker,
                                        clean_environment, forget),
        cmocka_unit_test_setup_teardown(test_inputs_and_outputs_have_prefixes_of_their_own,
                                        clean_environment, forget),
        cmocka_unit_test_setup_teardown(test_no_inputs_means_no_resource_files,
                                        clean_environment, forget),
        cmocka_unit_test(test_job_updates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
