/* The contract between the two programs (common/offload_contract.h), end to
 * end: the environment the webhook writes into the offloader pod for a Job,
 * resolved as the kubelet resolves it (values, "$$", "$(NAME)" against the
 * entries before, fieldRef from the pod), is read back by the offloader's
 * own configuration reader into exactly what the Job and the platform asked
 * for; and what neither sets comes out as the defaults both programs state. */
#include "test_support.h"

#include "admission_review.h"
#include "buffer.h"
#include "job_mutation.h"
#include "json_reader.h"
#include "log.h"
#include "offload_contract.h"
#include "offloader_config.h"
#include "test_platform.h"

#define POD_UID_LABEL "0b7d5f4c-3e1a-4a7b-9c2d-5e6f7a8b9c0d"

static const platform_settings every_override = {
    TEST_PLATFORM_DEFAULTS,
    .allowed_pools = "",
    .offloader_auth = "shared-key",
    .pool_image = "canonical:ubuntu-24_04-lts:server:latest",
    .node_agent_sku = "batch.node.ubuntu 24.04",
    .task_slots_per_node = 4,
    .node_fill_type = "pack",
    .autoscale_formula = "$TargetDedicatedNodes = 2;",
    .max_nodes = 50,
    .spot_fallback = "dedicated",
    .spot_fallback_seconds = 600,
};

static const platform_settings no_override = {
    TEST_PLATFORM_DEFAULTS,
    .allowed_pools = "",
    .offloader_auth = "",
    .pool_image = "",
    .node_agent_sku = "",
    .node_fill_type = "",
    .autoscale_formula = "",
    .spot_fallback = "",
};

/* What the kubelet puts in the pod for a fieldRef (the pod's labels as the
 * Job controller sets them, its namespace). */
static const char *field_value(const char *path)
{
    if (strcmp(path, "metadata.labels['batch.kubernetes.io/controller-uid']") == 0)
        return POD_UID_LABEL;
    if (strcmp(path, "metadata.labels['batch.kubernetes.io/job-name']") == 0)
        return "mapreduce";
    if (strcmp(path, "metadata.namespace") == 0)
        return "default";
    fail_msg("the webhook asks for a field the test does not know: %s", path);
    return NULL;
}

/* Kubernetes expansion of a value: "$$" is "$", "$(NAME)" the variable if
 * defined so far (else left as written). */
static void expand(const char *value, buffer *out)
{
    for (const char *c = value; *c; c++) {
        if (c[0] == '$' && c[1] == '$') {
            buffer_append_char(out, '$');
            c++;
        } else if (c[0] == '$' && c[1] == '(' && strchr(c, ')')) {
            const char *end = strchr(c, ')');
            char name[128];
            snprintf(name, sizeof(name), "%.*s", (int)(end - c - 2), c + 2);
            const char *defined = getenv(name);
            if (defined)
                buffer_append_str(out, defined);
            else
                buffer_append(out, c, (size_t)(end - c + 1));
            c = end;
        } else {
            buffer_append_char(out, *c);
        }
    }
}

/* Runs the webhook on the review and sets the offloader container's env
 * as the kubelet would, with only the account's credentials besides (the
 * Secret the envFrom names is the platform's). */
static void offloader_environment_for(const char *fixture, const platform_settings *platform)
{
    size_t len;
    char *body = read_fixture(fixture, &len);
    admission_request ar;
    char error[256];
    assert_true(admission_request_decode(&ar, body, len, error, sizeof(error)));
    job_mutation m;
    job_mutation_init(&m);
    job_mutate(&m, &ar.doc, ar.object, ar.namespace_name, platform);
    assert_int_equal(m.outcome, MUTATION_PATCHED);

    json_document patch;
    parse_or_fail(&patch, m.patch.data, m.patch.len);
    int pod_spec = -1;
    json_iterator ops = json_iterate(&patch, 0);
    int op;
    while (json_iterator_next(&ops, &op))
        if (json_string_equals(&patch, json_object_get(&patch, op, "path"), "/spec/template/spec"))
            pod_spec = json_object_get(&patch, op, "value");
    int containers = json_object_get(&patch, pod_spec, "containers");
    int env = json_object_get(&patch, containers + 1, "env");
    assert_true(json_length(&patch, env) > 0);

    set_minimal_offloader_environment(); /* the credentials, and keys the webhook sets below */
    unsetenv(OFFLOAD_ENV_JOB_ID);
    unsetenv(OFFLOAD_ENV_WORKER_IMAGE);
    unsetenv(OFFLOAD_ENV_COMPLETIONS);
    json_iterator entries = json_iterate(&patch, env);
    int entry;
    while (json_iterator_next(&entries, &entry)) {
        char *name = json_string_dup(&patch, json_object_get(&patch, entry, "name"));
        int value = json_object_get(&patch, entry, "value");
        int field = json_lookup(&patch, entry, "valueFrom", "fieldRef", "fieldPath", NULL);
        buffer resolved;
        buffer_init(&resolved, 0);
        if (value >= 0) {
            char *text = json_string_dup(&patch, value);
            expand(text, &resolved);
            free(text);
        } else if (field >= 0) {
            char *path = json_string_dup(&patch, field);
            buffer_append_str(&resolved, field_value(path));
            free(path);
        } else {
            buffer_free(&resolved);
            free(name);
            continue; /* secretKeyRef to the worker's own Secrets: none in this Job */
        }
        setenv(name, buffer_cstr(&resolved), 1);
        buffer_free(&resolved);
        free(name);
    }
    json_document_free(&patch);
    job_mutation_free(&m);
    admission_request_free(&ar);
    free(body);
}

static void load_config(offloader_config *config)
{
    buffer errors;
    buffer_init(&errors, 0);
    if (!offloader_config_load(config, CONFIG_FOR_WORK, &errors))
        fail_msg("the offloader refused the webhook's environment:\n%s", buffer_cstr(&errors));
    buffer_free(&errors);
}

static void test_what_the_webhook_writes_the_offloader_reads(void **state)
{
    (void)state;
    offloader_environment_for("tests/fixtures/admission/all-annotations.json", &every_override);
    offloader_config c;
    load_config(&c);
    assert_string_equal(c.job_id, OFFLOAD_JOB_ID_PREFIX POD_UID_LABEL);
    assert_string_equal(c.job_uid, POD_UID_LABEL);
    assert_string_equal(c.job_name, "mapreduce");
    assert_string_equal(c.namespace_name, "default");
    assert_string_equal(c.pool_id, "spot-pool-1");
    assert_string_equal(c.priority, "dedicated");
    assert_string_equal(c.vm_size, "Standard_D4s_v3");
    assert_true(c.keep_batch_job);
    assert_string_equal(c.container, "mapreduce-data");
    assert_string_equal(c.blob_prefix, "teams/search/mapreduce");
    assert_string_equal(c.input_prefix, "teams/search/corpus");
    assert_string_equal(c.inputs, "required");
    assert_true(c.inputs_required);
    assert_string_equal(c.aggregator_image, "registry.example.com/team/reduce:1.0");
    assert_string_equal(c.aggregator_args, "[\"--top\",\"10\"]");
    assert_int_equal(c.auth, OFFLOAD_AUTH_SHARED_KEY);
    assert_string_equal(c.pool_image, "canonical:ubuntu-24_04-lts:server:latest");
    assert_string_equal(c.node_agent_sku, "batch.node.ubuntu 24.04");
    assert_int_equal(c.task_slots_per_node, 4);
    assert_string_equal(c.node_fill_type, "pack");
    assert_string_equal(c.autoscale_formula, "$TargetDedicatedNodes = 2;"); /* "$" kept */
    assert_int_equal(c.max_nodes, 50);
    assert_string_equal(c.spot_fallback, "dedicated");
    assert_int_equal(c.spot_fallback_seconds, 600);
    json_document spec;
    parse_or_fail(&spec, c.worker_spec, strlen(c.worker_spec));
    int image = json_lookup(&spec, 0, "container", "image", NULL);
    assert_true(json_string_equals(&spec, image, c.worker_image));
    int64_t completions = 0;
    assert_true(json_read_int64(&spec, json_object_get(&spec, 0, "completions"), 1, 100000,
                                &completions));
    assert_int_equal(completions, c.completions);
    json_document_free(&spec);
    offloader_config_free(&c);
}

static void test_what_neither_sets_is_the_shared_default(void **state)
{
    (void)state;
    offloader_environment_for("tests/fixtures/admission/kubectl-job.json", &no_override);
    offloader_config c;
    load_config(&c);
    assert_string_equal(c.priority, OFFLOAD_DEFAULT_PRIORITY);
    assert_int_equal(c.keep_batch_job, strcmp(OFFLOAD_DEFAULT_KEEP_BATCH_JOB, "true") == 0);
    assert_string_equal(c.vm_size, OFFLOAD_DEFAULT_VM_SIZE);
    assert_string_equal(c.pool_image, OFFLOAD_DEFAULT_POOL_IMAGE);
    assert_string_equal(c.node_agent_sku, OFFLOAD_DEFAULT_NODE_AGENT_SKU);
    assert_string_equal(c.node_fill_type, OFFLOAD_DEFAULT_NODE_FILL_TYPE);
    assert_int_equal(c.task_slots_per_node, OFFLOAD_DEFAULT_TASK_SLOTS_PER_NODE);
    assert_int_equal(c.max_nodes, OFFLOAD_DEFAULT_MAX_NODES);
    assert_string_equal(c.spot_fallback, OFFLOAD_DEFAULT_SPOT_FALLBACK);
    assert_int_equal(c.spot_fallback_seconds, OFFLOAD_DEFAULT_SPOT_FALLBACK_SECONDS);
    assert_null(c.pool_id); /* an auto pool */
    assert_string_equal(c.blob_prefix, "default/wordcount");
    assert_null(c.input_prefix); /* the inputs are under BLOBPREFIX */
    assert_string_equal(c.inputs, OFFLOAD_DEFAULT_INPUTS);
    assert_false(c.inputs_required);
    offloader_config_free(&c);
}

/* A CronJob's run: the offloader reads the run's own BLOBPREFIX and the
 * CronJob's INPUTPREFIX as the webhook wrote them. */
static void test_a_cronjob_run_reaches_the_offloader_with_both_prefixes(void **state)
{
    (void)state;
    offloader_environment_for("tests/fixtures/admission/cronjob-run.json", &no_override);
    offloader_config c;
    load_config(&c);
    assert_string_equal(c.blob_prefix, "reports/nightly/runs/nightly-29395320");
    assert_string_equal(c.input_prefix, "reports/nightly");
    assert_false(c.inputs_required);
    offloader_config_free(&c);
}

int main(void)
{
    log_set_fd(-1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_what_the_webhook_writes_the_offloader_reads),
        cmocka_unit_test(test_what_neither_sets_is_the_shared_default),
        cmocka_unit_test(test_a_cronjob_run_reaches_the_offloader_with_both_prefixes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
