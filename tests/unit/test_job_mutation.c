/* The Job -> offloader rewrite on real manifests (tests/fixtures/admission,
 * made from kubectl output and captured AdmissionReviews): what is patched,
 * what is left alone, what is refused and why. The patches are applied with
 * the API server's own patch code and schema-checked in
 * tests/integration/test_webhook_patches.py. */
#include "test_support.h"

#include "admission_review.h"
#include "buffer.h"
#include "job_mutation.h"
#include "offload_contract.h"
#include "offloader_pod.h"
#include "test_platform.h"

static const platform_settings default_platform = {
    TEST_PLATFORM_DEFAULTS,
    .allowed_pools = "",
    .workload_identity = false,
};

/* One fixture run through decode + mutate; the patch parsed for lookups. */
typedef struct run {
    char *text;
    admission_request request;
    job_mutation mutation;
    json_document patch;
    bool have_patch;
} run;

static void run_document(run *r, char *text, size_t len, const platform_settings *platform)
{
    memset(r, 0, sizeof(*r));
    r->text = text;
    char error[256];
    if (!admission_request_decode(&r->request, text, len, error, sizeof(error)))
        fail_msg("fixture does not decode: %s", error);
    job_mutation_init(&r->mutation);
    if (r->request.is_job && r->request.object >= 0)
        job_mutate(&r->mutation, &r->request.doc, r->request.object, r->request.namespace_name,
                   platform);
    if (r->mutation.outcome == MUTATION_PATCHED) {
        parse_or_fail(&r->patch, r->mutation.patch.data, r->mutation.patch.len);
        r->have_patch = true;
    }
}

static void run_fixture(run *r, const char *name, const platform_settings *platform)
{
    char path[256];
    size_t len;
    snprintf(path, sizeof(path), "tests/fixtures/admission/%s.json", name);
    char *text = read_fixture(path, &len);
    run_document(r, text, len, platform);
}

static void run_free(run *r)
{
    if (r->have_patch)
        json_document_free(&r->patch);
    job_mutation_free(&r->mutation);
    admission_request_free(&r->request);
    free(r->text);
}

/* The value token of the operation on `path`, or -1. */
static int op_value(const run *r, const char *op, const char *path)
{
    json_iterator it = json_iterate(&r->patch, 0);
    int element;
    while (json_iterator_next(&it, &element))
        if (json_string_equals(&r->patch, json_object_get(&r->patch, element, "path"), path) &&
            json_string_equals(&r->patch, json_object_get(&r->patch, element, "op"), op))
            return json_object_get(&r->patch, element, "value");
    return -1;
}

static bool has_op(const run *r, const char *op, const char *path)
{
    json_iterator it = json_iterate(&r->patch, 0);
    int element;
    while (json_iterator_next(&it, &element))
        if (json_string_equals(&r->patch, json_object_get(&r->patch, element, "path"), path) &&
            json_string_equals(&r->patch, json_object_get(&r->patch, element, "op"), op))
            return true;
    return false;
}

static int offloader_container(const run *r)
{
    int spec = op_value(r, "add", "/spec/template/spec");
    assert_int_equal(json_type_of(&r->patch, spec), JSON_OBJECT);
    int containers = json_object_get(&r->patch, spec, "containers");
    assert_int_equal(json_length(&r->patch, containers), 1);
    return containers + 1;
}

/* The env entry with this name in the offloader container, or -1. */
static int env_entry(const run *r, const char *name)
{
    int env = json_object_get(&r->patch, offloader_container(r), "env");
    json_iterator it = json_iterate(&r->patch, env);
    int entry;
    while (json_iterator_next(&it, &entry))
        if (json_string_equals(&r->patch, json_object_get(&r->patch, entry, "name"), name))
            return entry;
    return -1;
}

static void assert_env(const run *r, const char *name, const char *expected)
{
    int entry = env_entry(r, name);
    if (entry < 0)
        fail_msg("env %s is missing", name);
    assert_member_string(&r->patch, entry, "value", expected);
}

static bool warned(const run *r, const char *fragment)
{
    for (size_t i = 0; i < r->mutation.warnings.count; i++)
        if (strstr(r->mutation.warnings.items[i], fragment))
            return true;
    return false;
}

static void test_kubectl_job_becomes_offloader_pod(void **state)
{
    (void)state;
    run r;
    run_fixture(&r, "kubectl-job", &default_platform);
    assert_int_equal(r.mutation.outcome, MUTATION_PATCHED);
    int64_t n;
    assert_true(json_read_int64(&r.patch, op_value(&r, "add", "/spec/completions"), 0, 9, &n));
    assert_int_equal(n, 1);
    assert_true(json_read_int64(&r.patch, op_value(&r, "add", "/spec/parallelism"), 0, 9, &n));
    assert_int_equal(n, 1);
    assert_true(json_read_int64(&r.patch, op_value(&r, "add", "/spec/backoffLimit"), 0, 9, &n));
    assert_int_equal(n, 3);
    assert_true(json_string_equals(&r.patch, op_value(&r, "add", "/spec/podReplacementPolicy"),
                                   "Failed"));
    int policy = op_value(&r, "add", "/spec/podFailurePolicy");
    int rules = json_object_get(&r.patch, policy, "rules");
    assert_int_equal(json_length(&r.patch, rules), 2);
    assert_member_string(&r.patch, rules + 1, "action", "FailJob");

    int container = offloader_container(&r);
    assert_member_string(&r.patch, container, "name", OFFLOADER_CONTAINER_NAME);
    assert_member_string(&r.patch, container, "image", default_platform.offloader_image);
    int security = json_object_get(&r.patch, container, "securityContext");
    assert_true(json_is_true(&r.patch, json_object_get(&r.patch, security, "runAsNonRoot")));
    assert_true(json_is_true(&r.patch,
                             json_object_get(&r.patch, security, "readOnlyRootFilesystem")));
    assert_int_equal(json_type_of(&r.patch, json_object_get(&r.patch, security,
                                                            "allowPrivilegeEscalation")),
                     JSON_FALSE);
    int pod = op_value(&r, "add", "/spec/template/spec");
    assert_member_string(&r.patch, pod, "restartPolicy", "Never");

    assert_env(&r, "WORKERIMAGENAME", "registry.example.com/team/wordcount:1.0");
    assert_env(&r, "COMPLETIONS", "5");
    assert_env(&r, "JOBID", "k8s-$(BATCH_OFFLOAD_JOB_UID)");
    assert_env(&r, "BLOBPREFIX", "default/wordcount");
    assert_env(&r, "CONTAINER", "batch-offload");
    assert_env(&r, "PRIORITY", "spot");
    assert_env(&r, "KEEPBATCHJOB", "false");
    assert_int_equal(env_entry(&r, "POOLID"), -1); /* no pool: an auto pool */
    /* Inputs under BLOBPREFIX and optional: the offloader's defaults, nothing written. */
    assert_int_equal(env_entry(&r, "INPUTPREFIX"), -1);
    assert_int_equal(env_entry(&r, "INPUTS"), -1);
    assert_int_equal(env_entry(&r, "AGGREGATORIMAGENAME"), -1);
    /* The UID the job id derives from comes in before JOBID uses it. */
    assert_true(env_entry(&r, "BATCH_OFFLOAD_JOB_UID") < env_entry(&r, "JOBID"));

    /* Secrets are a reference to the platform's Secret, never values. */
    static const char *const secrets[] = {"BATCHPASSWORD", "STORAGEKEY", "REGISTRYPASSWORD",
                                          "BATCHCONNECTIONSTRING", "SECONDARY_BATCHPASSWORD"};
    for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
        assert_int_equal(env_entry(&r, secrets[i]), -1);
    int env_from = json_object_get(&r.patch, offloader_container(&r), "envFrom");
    assert_int_equal(json_length(&r.patch, env_from), 1);
    int credentials = json_object_get(&r.patch, env_from + 1, "secretRef");
    assert_member_string(&r.patch, credentials, "name", "batch-offload-credentials");
    assert_true(json_is_true(&r.patch, json_object_get(&r.patch, credentials, "optional")));
    assert_int_equal(json_object_get(&r.patch, env_from + 1, "prefix"), -1);
    /* The worker spec is carried verbatim. */
    int spec_entry = env_entry(&r, "WORKERSPEC");
    char *spec_text = json_string_dup(&r.patch, json_object_get(&r.patch, spec_entry, "value"));
    json_document spec;
    parse_or_fail(&spec, spec_text, strlen(spec_text));
    assert_member_string(&spec, json_object_get(&spec, 0, "container"), "image",
                         "registry.example.com/team/wordcount:1.0");
    assert_true(json_read_int64(&spec, json_object_get(&spec, 0, "parallelism"), 0, 9, &n));
    assert_int_equal(n, 2);
    json_document_free(&spec);
    free(spec_text);
    assert_int_equal(r.mutation.warnings.count, 0);
    run_free(&r);
}

static void test_jobs_not_opted_in_are_left_alone(void **state)
{
    (void)state;
    static const char *const names[] = {"no-annotations", "pod"};
    for (size_t i = 0; i < 2; i++) {
        run r;
        run_fixture(&r, names[i], &default_platform);
        assert_int_equal(r.mutation.outcome, MUTATION_UNCHANGED);
        assert_int_equal(r.mutation.patch.len, 0);
        run_free(&r);
    }
}

static void test_generate_name_prefix_comes_from_the_pod_label(void **state)
{
    (void)state;
    run r;
    run_fixture(&r, "generate-name", &default_platform);
    assert_null(r.request.name);
    assert_int_equal(r.mutation.outcome, MUTATION_PATCHED);
    assert_env(&r, "BLOBPREFIX", "default/$(BATCH_OFFLOAD_JOB_NAME)");
    assert_true(env_entry(&r, "BATCH_OFFLOAD_JOB_NAME") < env_entry(&r, "BLOBPREFIX"));
    run_free(&r);
}

static void test_indexed_job_loses_indexed_only_fields(void **state)
{
    (void)state;
    run r;
    run_fixture(&r, "indexed", &default_platform);
    assert_int_equal(r.mutation.outcome, MUTATION_PATCHED);
    assert_true(has_op(&r, "remove", "/spec/backoffLimitPerIndex"));
    assert_true(has_op(&r, "remove", "/spec/maxFailedIndexes"));
    assert_false(has_op(&r, "remove", "/spec/successPolicy")); /* absent: removing would fail */
    assert_true(json_string_equals(&r.patch, op_value(&r, "add", "/spec/completionMode"),
                                   "NonIndexed"));
    assert_env(&r, "COMPLETIONS", "10");
    /* Carried to the offloader, which applies them (offloader/job_policy.c). */
    assert_false(warned(&r, "spec.maxFailedIndexes"));
    int entry = env_entry(&r, "WORKERSPEC");
    char *spec = json_string_dup(&r.patch, json_object_get(&r.patch, entry, "value"));
    assert_non_null(strstr(spec, "\"backoffLimitPerIndex\":2"));
    assert_non_null(strstr(spec, "\"maxFailedIndexes\":"));
    assert_non_null(strstr(spec, "\"completionMode\":\"Indexed\""));
    free(spec);
    run_free(&r);
}

static void test_env_sources_are_forwarded_by_index_and_dollars_escaped(void **state)
{
    (void)state;
    run r;
    run_fixture(&r, "env-value-from", &default_platform);
    assert_int_equal(r.mutation.outcome, MUTATION_PATCHED);
    int e1 = env_entry(&r, "BATCH_OFFLOAD_WORKER_ENV_1");
    assert_member_string(&r.patch, json_lookup(&r.patch, e1, "valueFrom", "secretKeyRef", NULL),
                         "name", "app-secrets");
    int e2 = env_entry(&r, "BATCH_OFFLOAD_WORKER_ENV_2");
    assert_member_string(&r.patch, json_lookup(&r.patch, e2, "valueFrom", "configMapKeyRef", NULL),
                         "key", "mode");
    int e3 = env_entry(&r, "BATCH_OFFLOAD_WORKER_ENV_3");
    assert_member_string(&r.patch, json_lookup(&r.patch, e3, "valueFrom", "fieldRef", NULL),
                         "fieldPath", "metadata.name");
    /* A literal value is not forwarded; resourceFieldRef names a container the
     * offloader pod does not have, so the offloader resolves it itself. */
    assert_int_equal(env_entry(&r, "BATCH_OFFLOAD_WORKER_ENV_0"), -1);
    assert_int_equal(env_entry(&r, "BATCH_OFFLOAD_WORKER_ENV_4"), -1);

    /* The credentials first, then the worker's sources behind their prefixes. */
    int env_from = json_object_get(&r.patch, offloader_container(&r), "envFrom");
    assert_int_equal(json_length(&r.patch, env_from), 3);
    int credentials = env_from + 1;
    assert_member_string(&r.patch, json_object_get(&r.patch, credentials, "secretRef"), "name",
                         "batch-offload-credentials");
    int first = json_next(&r.patch, credentials);
    assert_member_string(&r.patch, first, "prefix", "BATCH_OFFLOAD_WORKER_ENVFROM_0_");
    int second = json_next(&r.patch, first);
    assert_member_string(&r.patch, second, "prefix", "BATCH_OFFLOAD_WORKER_ENVFROM_1_DB_");
    assert_member_string(&r.patch, json_object_get(&r.patch, second, "secretRef"), "name", "db");

    /* "$" doubled so the kubelet hands the offloader the original text. */
    int spec_entry = env_entry(&r, "WORKERSPEC");
    char *spec = json_string_dup(&r.patch, json_object_get(&r.patch, spec_entry, "value"));
    assert_non_null(strstr(spec, "--input=$$(INPUT)"));
    assert_non_null(strstr(spec, "$$$$literal"));
    assert_non_null(strstr(spec, "s3://bucket/$$(SHARD)"));
    assert_null(strstr(spec, "=$(INPUT)"));
    free(spec);
    run_free(&r);
}

static void test_image_pull_secrets_are_referenced_not_copied(void **state)
{
    (void)state;
    run r;
    run_fixture(&r, "image-pull-secrets", &default_platform);
    int e0 = env_entry(&r, "BATCH_OFFLOAD_PULL_SECRET_0");
    int ref = json_lookup(&r.patch, e0, "valueFrom", "secretKeyRef", NULL);
    assert_member_string(&r.patch, ref, "name", "acr-pull");
    assert_member_string(&r.patch, ref, "key", ".dockerconfigjson");
    assert_true(json_is_true(&r.patch, json_object_get(&r.patch, ref, "optional")));
    assert_true(env_entry(&r, "BATCH_OFFLOAD_PULL_SECRET_1") >= 0);
    int pod = op_value(&r, "add", "/spec/template/spec");
    assert_int_equal(json_length(&r.patch, json_object_get(&r.patch, pod, "imagePullSecrets")), 2);
    run_free(&r);
}

/* The fixture with one piece of its text replaced. */
static void run_edited_fixture(run *r, const char *name, const char *old, const char *new_text)
{
    char path[256];
    size_t len;
    snprintf(path, sizeof(path), "tests/fixtures/admission/%s.json", name);
    char *text = read_fixture(path, &len);
    char *at = strstr(text, old);
    if (!at)
        fail_msg("%s has no \"%s\"", name, old);
    buffer edited;
    buffer_init(&edited, 0);
    buffer_append(&edited, text, (size_t)(at - text));
    buffer_append_str(&edited, new_text);
    buffer_append_str(&edited, at + strlen(old));
    free(text);
    run_document(r, edited.data, edited.len, &default_platform);
}

/* A fixed blob-prefix is kept (inputs under it, as before), but every run of
 * the CronJob writes there: said at admission. */
static void test_cronjob_stamped_job_keeps_its_prefix(void **state)
{
    (void)state;
    run r;
    run_fixture(&r, "cronjob-stamped", &default_platform);
    assert_int_equal(r.mutation.outcome, MUTATION_PATCHED);
    assert_env(&r, "BLOBPREFIX", "reports/nightly");
    assert_int_equal(env_entry(&r, "INPUTPREFIX"), -1);
    assert_env(&r, "COMPLETIONS", "1");
    assert_true(warned(&r, "batch-offload.io/blob-prefix is the same for every run of CronJob "
                           "nightly"));
    assert_true(warned(&r, "reports/nightly/runs/<job name>"));
    run_free(&r);
}

/* A CronJob's Job without prefixes: inputs read from the CronJob's own
 * prefix, staged once for every run; outputs and logs under the run's. */
static void test_cronjob_runs_share_inputs_and_keep_outputs_apart(void **state)
{
    (void)state;
    run r;
    run_fixture(&r, "cronjob-run", &default_platform);
    assert_int_equal(r.mutation.outcome, MUTATION_PATCHED);
    assert_env(&r, "BLOBPREFIX", "reports/nightly/runs/nightly-29395320");
    assert_env(&r, "INPUTPREFIX", "reports/nightly");
    assert_int_equal(env_entry(&r, "INPUTS"), -1);
    assert_int_equal(r.mutation.warnings.count, 0);
    run_free(&r);

    /* With generateName the run's name is the one the Job gets when stored. */
    run_edited_fixture(&r, "cronjob-run", "\"name\": \"nightly-29395320\",\n        \"namespace\"",
                       "\"generateName\": \"nightly-\",\n        \"namespace\"");
    assert_int_equal(r.mutation.outcome, MUTATION_PATCHED);
    assert_env(&r, "BLOBPREFIX", "reports/nightly/runs/$(BATCH_OFFLOAD_JOB_NAME)");
    assert_true(env_entry(&r, "BATCH_OFFLOAD_JOB_NAME") < env_entry(&r, "BLOBPREFIX"));
    assert_env(&r, "INPUTPREFIX", "reports/nightly");
    run_free(&r);

    /* input-prefix wins over the CronJob's default; blob-prefix stays the run's. */
    run_edited_fixture(&r, "cronjob-run", "\"batch-offload.io/enabled\": \"true\"",
                       "\"batch-offload.io/enabled\": \"true\", "
                       "\"batch-offload.io/input-prefix\": \"datasets/corpus\"");
    assert_env(&r, "BLOBPREFIX", "reports/nightly/runs/nightly-29395320");
    assert_env(&r, "INPUTPREFIX", "datasets/corpus");
    run_free(&r);
}

/* Only the CronJob controller's ownerReference makes a CronJob's Job: another
 * owner, or a CronJob that is not the controller, leaves the Job's layout. */
static void test_other_owners_keep_the_plain_layout(void **state)
{
    (void)state;
    static const char *const edits[][2] = {
        {"\"controller\": true", "\"controller\": false"},
        {"\"kind\": \"CronJob\"", "\"kind\": \"Workflow\""},
        {"\"apiVersion\": \"batch/v1\",\n            \"blockOwnerDeletion\"",
         "\"apiVersion\": \"example.com/v1\",\n            \"blockOwnerDeletion\""},
    };
    for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
        run r;
        run_edited_fixture(&r, "cronjob-run", edits[i][0], edits[i][1]);
        assert_int_equal(r.mutation.outcome, MUTATION_PATCHED);
        assert_env(&r, "BLOBPREFIX", "reports/nightly-29395320");
        assert_int_equal(env_entry(&r, "INPUTPREFIX"), -1);
        run_free(&r);
    }
}

/* A CronJob name that cannot be one segment of a blob path is refused, named. */
static void test_cronjob_name_that_is_no_path_segment_is_denied(void **state)
{
    (void)state;
    static const char *const names[] = {"\"name\": \"../up\",", "\"name\": \"a/b\",",
                                        "\"name\": \"..\",", "\"name\": \"\",",
                                        "\"name\": \"Nightly\","};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        run r;
        run_edited_fixture(&r, "cronjob-run", "\"name\": \"nightly\",", names[i]);
        assert_int_equal(r.mutation.outcome, MUTATION_DENIED);
        assert_int_equal(r.mutation.status_code, 400);
        assert_non_null(strstr(buffer_cstr(&r.mutation.message),
                               "metadata.ownerReferences names CronJob"));
        assert_non_null(strstr(buffer_cstr(&r.mutation.message), "allowed is a Kubernetes "
                                                                 "object name"));
        run_free(&r);
    }
}

static void test_every_annotation_reaches_the_offloader(void **state)
{
    (void)state;
    run r;
    run_fixture(&r, "all-annotations", &default_platform);
    assert_int_equal(r.mutation.outcome, MUTATION_PATCHED);
    assert_env(&r, "POOLID", "spot-pool-1");
    assert_env(&r, "PRIORITY", "dedicated");
    assert_env(&r, "VMSIZE", "Standard_D4s_v3");
    assert_env(&r, "CONTAINER", "mapreduce-data");
    assert_env(&r, "BLOBPREFIX", "teams/search/mapreduce");
    assert_env(&r, "INPUTPREFIX", "teams/search/corpus");
    assert_env(&r, "INPUTS", "required");
    assert_env(&r, "KEEPBATCHJOB", "true");
    assert_env(&r, "AGGREGATORIMAGENAME", "registry.example.com/team/reduce:1.0");
    assert_env(&r, "AGGREGATORARGS", "[\"--top\",\"10\"]");
    run_free(&r);
}

static void test_fields_without_batch_counterpart_are_warned(void **state)
{
    (void)state;
    run r;
    run_fixture(&r, "dropped-fields", &default_platform);
    assert_int_equal(r.mutation.outcome, MUTATION_PATCHED);
    static const char *const expected[] = {
        "spec.template.spec.volumes", "spec.template.spec.nodeSelector",
        "spec.template.spec.tolerations", "spec.template.spec.containers[0].volumeMounts",
        "spec.template.spec.containers[0].livenessProbe",
        "spec.template.spec.containers[1] (\"log-shipper\")"};
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
        if (!warned(&r, expected[i]))
            fail_msg("no warning for %s", expected[i]);
    assert_int_equal(r.mutation.warnings.count, 6);
    for (size_t i = 0; i < r.mutation.warnings.count; i++)
        assert_true(strlen(r.mutation.warnings.items[i]) <= 256);
    /* Defaults the API server filled in are not reported. */
    assert_false(warned(&r, "dnsPolicy"));
    assert_false(warned(&r, "spec.template.spec.securityContext"));
    run_free(&r);
}

static void test_captured_samples_are_rewritten(void **state)
{
    (void)state;
    run r;
    run_fixture(&r, "sample-job-create-root-user", &default_platform);
    assert_int_equal(r.mutation.outcome, MUTATION_PATCHED);
    assert_env(&r, "WORKERIMAGENAME", "perl:5.34.0");
    assert_true(warned(&r, "spec.template.spec.containers[0].securityContext"));
    run_free(&r);
    run_fixture(&r, "sample-job-create-no-securitycontext", &default_platform);
    assert_int_equal(r.mutation.outcome, MUTATION_PATCHED);
    run_free(&r);
}

static void test_v1beta1_is_answered_in_v1beta1(void **state)
{
    (void)state;
    run r;
    run_fixture(&r, "v1beta1", &default_platform);
    assert_int_equal(r.request.version, ADMISSION_V1BETA1);
    buffer out;
    buffer_init(&out, 0);
    admission_response answer = {.allowed = true, .patch = r.mutation.patch.data,
                                 .patch_len = r.mutation.patch.len};
    admission_response_encode(&out, &r.request, &answer);
    json_document doc;
    parse_or_fail(&doc, out.data, out.len);
    assert_member_string(&doc, 0, "apiVersion", "admission.k8s.io/v1beta1");
    assert_member_string(&doc, json_object_get(&doc, 0, "response"), "uid", r.request.uid);
    assert_member_string(&doc, json_object_get(&doc, 0, "response"), "patchType", "JSONPatch");
    json_document_free(&doc);
    buffer_free(&out);
    run_free(&r);
}

/* The kubectl-job fixture with one annotation added, or enabled's value replaced. */
static void run_with_annotation(run *r, const char *name, const char *value,
                                const platform_settings *platform)
{
    size_t len;
    char *text = read_fixture("tests/fixtures/admission/kubectl-job.json", &len);
    const char *anchor = "\"batch-offload.io/enabled\": \"true\"";
    char *at = strstr(text, anchor);
    assert_non_null(at);
    buffer edited;
    buffer_init(&edited, 0);
    buffer_append(&edited, text, (size_t)(at - text));
    if (strcmp(name, "batch-offload.io/enabled") == 0)
        buffer_appendf(&edited, "\"%s\": %s", name, value);
    else
        buffer_appendf(&edited, "\"%s\": %s, %s", name, value, anchor);
    buffer_append_str(&edited, at + strlen(anchor));
    free(text);
    run_document(r, edited.data, edited.len, platform);
}

static void assert_denied(const char *name, const char *value, const platform_settings *platform,
                          int code, const char *fragment)
{
    run r;
    run_with_annotation(&r, name, value, platform);
    if (r.mutation.outcome != MUTATION_DENIED)
        fail_msg("%s: %s was not denied", name, value);
    assert_int_equal(r.mutation.status_code, code);
    if (!strstr(buffer_cstr(&r.mutation.message), fragment))
        fail_msg("message \"%s\" lacks \"%s\"", buffer_cstr(&r.mutation.message), fragment);
    run_free(&r);
}

static void test_bad_annotation_values_are_denied_with_what_is_allowed(void **state)
{
    (void)state;
    platform_settings restricted = default_platform;
    restricted.allowed_pools = "gpu-pool,cpu-pool";
    assert_denied("batch-offload.io/priority", "\"fast\"", &default_platform, 400,
                  "annotation batch-offload.io/priority has value \"fast\": allowed is "
                  "\"spot\" or \"dedicated\"");
    assert_denied("batch-offload.io/pool", "\"bad pool!\"", &default_platform, 400,
                  "batch-offload.io/pool has value \"bad pool!\": allowed is a Batch pool ID");
    assert_denied("batch-offload.io/pool", "\"other-pool\"", &restricted, 400,
                  "one of the pools this cluster allows: gpu-pool,cpu-pool");
    assert_denied("batch-offload.io/aggregator-args", "\"--top 10\"", &default_platform, 400,
                  "batch-offload.io/aggregator-args has value \"--top 10\": allowed is a JSON "
                  "array of strings");
    assert_denied("batch-offload.io/aggregator-args", "\"[1, 2]\"", &default_platform, 400,
                  "a JSON array of strings");
    assert_denied("batch-offload.io/aggregator-image", "\"Not An Image\"", &default_platform,
                  400, "batch-offload.io/aggregator-image has value \"Not An Image\"");
    assert_denied("batch-offload.io/storage-container", "\"Has_Upper\"", &default_platform, 400,
                  "a Blob container name");
    assert_denied("batch-offload.io/blob-prefix", "\"/abs/../x\"", &default_platform, 400,
                  "batch-offload.io/blob-prefix");
    assert_denied("batch-offload.io/input-prefix", "\"team//x\"", &default_platform, 400,
                  "annotation batch-offload.io/input-prefix has value \"team//x\": allowed is "
                  "a path");
    assert_denied("batch-offload.io/inputs", "\"sometimes\"", &default_platform, 400,
                  "annotation batch-offload.io/inputs has value \"sometimes\": allowed is "
                  "\"required\" or \"optional\"");
    assert_denied("batch-offload.io/inputs", "\"Required\"", &default_platform, 400,
                  "\"required\" or \"optional\"");
    assert_denied("batch-offload.io/keep-batch-job", "\"yes\"", &default_platform, 400,
                  "\"true\" or \"false\"");
    assert_denied("batch-offload.io/prority", "\"spot\"", &default_platform, 400,
                  "unknown annotation \"batch-offload.io/prority\"");
    assert_denied("batch-offload.io/vm-size", "\"Standard D2\"", &default_platform, 400,
                  "an Azure VM size");
    /* Values are quoted escaped and cut, so a message stays one readable line. */
    assert_denied("batch-offload.io/priority", "\"line1\\nline2\"", &default_platform, 400,
                  "has value \"line1\\nline2\"");
}

/* The fixture is denied with this code and exactly this message, and no patch. */
static void assert_fixture_denied(const char *name, const platform_settings *platform, int code,
                                  const char *message)
{
    run r;
    run_fixture(&r, name, platform);
    assert_int_equal(r.mutation.outcome, MUTATION_DENIED);
    assert_int_equal(r.mutation.status_code, code);
    assert_string_equal(buffer_cstr(&r.mutation.message), message);
    assert_int_equal(r.mutation.patch.len, 0);
    run_free(&r);
}

/* batch-offload.io/enabled is "true" or "false": anything else is a typo,
 * refused naming the allowed values, not a Job silently left on the cluster. */
static void test_enabled_is_true_or_false(void **state)
{
    (void)state;
    run r;
    run_with_annotation(&r, "batch-offload.io/enabled", "\"false\"", &default_platform);
    assert_int_equal(r.mutation.outcome, MUTATION_UNCHANGED);
    assert_string_equal(r.mutation.reason, "not opted in");
    run_free(&r);
    assert_fixture_denied("enabled-not-true", &default_platform, 400,
                          "annotation batch-offload.io/enabled has value \"yes\": allowed is "
                          "\"true\" or \"false\"");
    static const char *const typos[] = {"\"TRUE\"", "\"True\"", "\"\"", "\"1\"", "\" true\""};
    for (size_t i = 0; i < sizeof(typos) / sizeof(typos[0]); i++)
        assert_denied("batch-offload.io/enabled", typos[i], &default_platform, 400,
                      "allowed is \"true\" or \"false\"");
}

/* A fixture with the first occurrence of each edits[i][0] replaced by edits[i][1]. */
static void run_edits(run *r, const char *name, size_t count, const char *const (*edits)[2],
                      const platform_settings *platform)
{
    char path[256];
    size_t len;
    snprintf(path, sizeof(path), "tests/fixtures/admission/%s.json", name);
    char *text = read_fixture(path, &len);
    for (size_t i = 0; i < count; i++) {
        char *at = strstr(text, edits[i][0]);
        if (!at)
            fail_msg("%s has no %s", name, edits[i][0]);
        buffer edited;
        buffer_init(&edited, 0);
        buffer_append(&edited, text, (size_t)(at - text));
        buffer_append_str(&edited, edits[i][1]);
        buffer_append_str(&edited, at + strlen(edits[i][0]));
        free(text);
        text = strdup(buffer_cstr(&edited));
        len = edited.len;
        buffer_free(&edited);
    }
    run_document(r, text, len, platform);
}

static void run_edited(run *r, const char *name, const char *from, const char *to,
                       const platform_settings *platform)
{
    const char *const edits[][2] = {{from, to}};
    run_edits(r, name, 1, edits, platform);
}

/* The kubectl-job fixture with spec.completions replaced, denied with exactly `message`. */
static void assert_completions_denied(const char *completions, long platform_limit,
                                      const char *message)
{
    platform_settings platform = default_platform;
    platform.max_completions = platform_limit;
    char replacement[64];
    snprintf(replacement, sizeof(replacement), "\"completions\": %s", completions);
    run r;
    run_edited(&r, "kubectl-job", "\"completions\": 5", replacement, &platform);
    assert_int_equal(r.mutation.outcome, MUTATION_DENIED);
    assert_int_equal(r.mutation.status_code, 400);
    assert_string_equal(buffer_cstr(&r.mutation.message), message);
    run_free(&r);
}

static void test_platform_limits_are_enforced(void **state)
{
    (void)state;
    platform_settings small = default_platform;
    small.max_completions = 4;
    assert_fixture_denied("kubectl-job", &small, 400,
                          "spec.completions is 5: this cluster offloads Jobs of at most 4 "
                          "completions (the platform's --max-completions)");
    run r;

    platform_settings fenced = default_platform;
    fenced.allowed_namespaces = "batch,science";
    run_fixture(&r, "kubectl-job", &fenced);
    assert_int_equal(r.mutation.outcome, MUTATION_DENIED);
    assert_int_equal(r.mutation.status_code, 403);
    assert_non_null(strstr(buffer_cstr(&r.mutation.message), "namespace \"default\" may not"));
    run_free(&r);
}

/* 100,000 completions at most, whatever the platform allows (the contract's
 * OFFLOAD_MAX_COMPLETIONS); the denial says which limit the Job passed. */
static void test_completions_have_a_hard_limit(void **state)
{
    (void)state;
    assert_int_equal(OFFLOAD_MAX_COMPLETIONS, 100000);
    assert_completions_denied("100001", OFFLOAD_MAX_COMPLETIONS,
                              "spec.completions is 100001: no Job of more than 100000 "
                              "completions is offloaded (the hard limit, Kubernetes' own for "
                              "Indexed Jobs)");
    assert_completions_denied("200000", 10000,
                              "spec.completions is 200000: this cluster offloads Jobs of at "
                              "most 10000 completions (the platform's --max-completions); "
                              "100000 is the hard limit, Kubernetes' own for Indexed Jobs");
    /* A platform setting above the hard limit (only a test can make one) is held to it. */
    assert_completions_denied("100001", 5000000,
                              "spec.completions is 100001: no Job of more than 100000 "
                              "completions is offloaded (the hard limit, Kubernetes' own for "
                              "Indexed Jobs)");
    assert_completions_denied("0", 10000,
                              "spec.completions is 0: it must be a whole number from 1 to 10000");
    assert_completions_denied("2.5", 10000,
                              "spec.completions is 2.5: it must be a whole number from 1 to "
                              "10000");
    platform_settings largest = default_platform;
    largest.max_completions = OFFLOAD_MAX_COMPLETIONS;
    run r;
    run_edited(&r, "kubectl-job", "\"completions\": 5", "\"completions\": 100000", &largest);
    assert_int_equal(r.mutation.outcome, MUTATION_PATCHED);
    assert_env(&r, "COMPLETIONS", "100000");
    run_free(&r);
}

/* kubectl-job with these resources on its worker (and maybe one annotation). */
static void run_with_resources(run *r, const char *resources, const char *annotation,
                               const platform_settings *platform)
{
    char replacement[1024];
    snprintf(replacement, sizeof(replacement), "\"resources\": %s", resources);
    char annotations[256];
    snprintf(annotations, sizeof(annotations), "%s%s\"batch-offload.io/enabled\": \"true\"",
             annotation ? annotation : "", annotation ? ", " : "");
    const char *const edits[][2] = {{"\"resources\": {}", replacement},
                                    {"\"batch-offload.io/enabled\": \"true\"", annotations}};
    run_edits(r, "kubectl-job", 2, edits, platform);
}

#define ONE_GPU "{\"limits\": {\"nvidia.com/gpu\": \"1\", \"cpu\": \"4\"}}"

static void test_a_gpu_job_without_platform_gpus_is_refused(void **state)
{
    (void)state;
    platform_settings cpu_only = default_platform;
    cpu_only.default_pool = "cpu-pool";
    cpu_only.default_vm_size = "Standard_D4s_v3";
    run r;
    run_with_resources(&r, ONE_GPU, NULL, &cpu_only);
    assert_int_equal(r.mutation.outcome, MUTATION_DENIED);
    assert_int_equal(r.mutation.status_code, 400);
    assert_string_equal(buffer_cstr(&r.mutation.message),
                        "spec.template.spec.containers[0] asks for 1 nvidia.com/gpu, but this "
                        "cluster has no GPUs for offloaded Jobs: the platform gives them with "
                        "--gpu-pool or --gpu-vm-size (the chart's offload.gpu), or a Job names a "
                        "GPU pool with batch-offload.io/pool");
    run_free(&r);
    /* A vm-size annotation is no GPU pool: the image would be the CPU pools'. */
    run_with_resources(&r, ONE_GPU, "\"batch-offload.io/vm-size\": \"Standard_NC6s_v3\"",
                       &cpu_only);
    assert_int_equal(r.mutation.outcome, MUTATION_DENIED);
    run_free(&r);
    /* A pool the Job names is the Job's choice, within the platform's allowed pools. */
    run_with_resources(&r, ONE_GPU, "\"batch-offload.io/pool\": \"team-gpus\"", &cpu_only);
    assert_int_equal(r.mutation.outcome, MUTATION_PATCHED);
    assert_env(&r, "POOLID", "team-gpus");
    run_free(&r);
    /* "0" GPUs is no GPU Job. */
    run_with_resources(&r, "{\"limits\": {\"nvidia.com/gpu\": \"0\"}}", NULL, &cpu_only);
    assert_int_equal(r.mutation.outcome, MUTATION_PATCHED);
    assert_env(&r, "POOLID", "cpu-pool");
    run_free(&r);
}

/* A GPU Job gets the platform's GPU auto pool: its VM size and image, one
 * task per node (no task slots, no fill type), never the CPU defaults. The
 * worker spec carries the count in the container's limits. */
static void test_a_gpu_job_gets_the_platform_gpu_auto_pool(void **state)
{
    (void)state;
    platform_settings gpus = default_platform;
    gpus.default_pool = "cpu-pool";
    gpus.default_vm_size = "Standard_D4s_v3";
    gpus.pool_image = "canonical:ubuntu-24_04-lts:server:latest";
    gpus.node_agent_sku = "batch.node.ubuntu 24.04";
    gpus.task_slots_per_node = 4;
    gpus.node_fill_type = "pack";
    gpus.max_nodes = 8;
    gpus.gpu_vm_size = "Standard_NC12s_v3";
    gpus.gpu_pool_image = "microsoft-dsvm:ubuntu-hpc:2404:latest";
    gpus.gpu_node_agent_sku = "batch.node.ubuntu 24.04";
    run r;
    run_with_resources(&r, "{\"limits\": {\"nvidia.com/gpu\": \"2\"}, \"requests\": "
                           "{\"nvidia.com/gpu\": \"2\", \"cpu\": \"1\", \"memory\": \"1Gi\"}}",
                       NULL, &gpus);
    assert_int_equal(r.mutation.outcome, MUTATION_PATCHED);
    assert_int_equal(env_entry(&r, "POOLID"), -1);
    assert_env(&r, "VMSIZE", "Standard_NC12s_v3");
    assert_env(&r, "BATCH_OFFLOAD_POOL_IMAGE", "microsoft-dsvm:ubuntu-hpc:2404:latest");
    assert_env(&r, "BATCH_OFFLOAD_NODE_AGENT_SKU", "batch.node.ubuntu 24.04");
    assert_int_equal(env_entry(&r, "BATCH_OFFLOAD_TASK_SLOTS_PER_NODE"), -1);
    assert_int_equal(env_entry(&r, "BATCH_OFFLOAD_NODE_FILL_TYPE"), -1);
    assert_env(&r, "BATCH_OFFLOAD_MAX_NODES", "8");
    char *spec = json_string_dup(&r.patch, json_object_get(&r.patch, env_entry(&r, "WORKERSPEC"),
                                                          "value"));
    assert_non_null(strstr(spec, "\"limits\": {\"nvidia.com/gpu\": \"2\"}"));
    free(spec);
    assert_int_equal(r.mutation.warnings.count, 0); /* cpu, memory and GPUs are carried */
    run_free(&r);
    /* Without a GPU image the offloader's default (NVIDIA drivers and container runtime), not
     * the CPU pools' image; a vm-size annotation still picks the size. */
    gpus.gpu_pool_image = "";
    gpus.gpu_node_agent_sku = "";
    run_with_resources(&r, ONE_GPU, "\"batch-offload.io/vm-size\": \"Standard_NC24ads_A100_v4\"",
                       &gpus);
    assert_int_equal(r.mutation.outcome, MUTATION_PATCHED);
    assert_env(&r, "VMSIZE", "Standard_NC24ads_A100_v4");
    assert_int_equal(env_entry(&r, "BATCH_OFFLOAD_POOL_IMAGE"), -1);
    assert_int_equal(env_entry(&r, "BATCH_OFFLOAD_NODE_AGENT_SKU"), -1);
    run_free(&r);
    /* A CPU Job on the same platform keeps the CPU defaults. */
    run_fixture(&r, "kubectl-job", &gpus);
    assert_env(&r, "POOLID", "cpu-pool");
    assert_env(&r, "VMSIZE", "Standard_D4s_v3");
    assert_env(&r, "BATCH_OFFLOAD_TASK_SLOTS_PER_NODE", "4");
    run_free(&r);
}

static void test_a_gpu_job_gets_the_platform_gpu_pool(void **state)
{
    (void)state;
    platform_settings gpus = default_platform;
    gpus.default_pool = "cpu-pool";
    gpus.gpu_pool = "gpu-pool";
    gpus.gpu_vm_size = "Standard_NC6s_v3";
    run r;
    run_with_resources(&r, ONE_GPU, NULL, &gpus);
    assert_int_equal(r.mutation.outcome, MUTATION_PATCHED);
    assert_env(&r, "POOLID", "gpu-pool");
    run_free(&r);
    run_with_resources(&r, ONE_GPU, "\"batch-offload.io/pool\": \"other-gpus\"", &gpus);
    assert_env(&r, "POOLID", "other-gpus");
    run_free(&r);
}

static void assert_resources_denied(const char *resources, const char *message)
{
    platform_settings gpus = default_platform;
    gpus.gpu_vm_size = "Standard_NC6s_v3";
    run r;
    run_with_resources(&r, resources, NULL, &gpus);
    if (r.mutation.outcome != MUTATION_DENIED)
        fail_msg("%s was not denied", resources);
    assert_int_equal(r.mutation.status_code, 400);
    assert_string_equal(buffer_cstr(&r.mutation.message), message);
    run_free(&r);
}

/* The API server would refuse these GPU counts had the worker stayed in the
 * Job; after the rewrite it never sees them, so the webhook does. */
static void test_gpu_counts_kubernetes_refuses_are_refused(void **state)
{
    (void)state;
    assert_resources_denied("{\"limits\": {\"nvidia.com/gpu\": \"1500m\"}}",
                            "spec.template.spec.containers[0].resources.limits.nvidia.com/gpu is "
                            "\"1500m\": a GPU count is a whole number from 0 to 64");
    assert_resources_denied("{\"limits\": {\"nvidia.com/gpu\": \"65\"}}",
                            "spec.template.spec.containers[0].resources.limits.nvidia.com/gpu is "
                            "\"65\": a GPU count is a whole number from 0 to 64");
    assert_resources_denied("{\"limits\": {\"nvidia.com/gpu\": 2}}",
                            "spec.template.spec.containers[0].resources.limits.nvidia.com/gpu is "
                            "2: a GPU count is a whole number from 0 to 64");
    assert_resources_denied("{\"limits\": {\"nvidia.com/gpu\": \"-1\"}}",
                            "spec.template.spec.containers[0].resources.limits.nvidia.com/gpu is "
                            "\"-1\": a GPU count is a whole number from 0 to 64");
    assert_resources_denied("{\"requests\": {\"nvidia.com/gpu\": \"1\"}}",
                            "spec.template.spec.containers[0].resources.requests.nvidia.com/gpu "
                            "is set without spec.template.spec.containers[0].resources.limits."
                            "nvidia.com/gpu: Kubernetes takes GPUs from limits; set the limit "
                            "(and a request, if any, to the same number)");
    assert_resources_denied("{\"limits\": {\"nvidia.com/gpu\": \"2\"}, \"requests\": "
                            "{\"nvidia.com/gpu\": \"1\"}}",
                            "spec.template.spec.containers[0].resources.requests.nvidia.com/gpu "
                            "is \"1\" and its limit \"2\": Kubernetes needs them equal");
}

/* Every resource Batch does not get is named; cpu, memory and GPUs are not. */
static void test_resources_batch_does_not_get_are_warned(void **state)
{
    (void)state;
    run r;
    run_with_resources(&r, "{\"limits\": {\"cpu\": \"2\", \"memory\": \"4Gi\", "
                           "\"ephemeral-storage\": \"10Gi\", \"hugepages-2Mi\": \"1Gi\", "
                           "\"example.com/fpga\": \"1\"}, \"requests\": {\"cpu\": \"1\", "
                           "\"ephemeral-storage\": \"5Gi\"}, \"claims\": [{\"name\": \"gpu\"}]}",
                       NULL, &default_platform);
    assert_int_equal(r.mutation.outcome, MUTATION_PATCHED);
    static const char *const named[] = {
        "spec.template.spec.containers[0].resources.limits.ephemeral-storage is not carried to "
        "Azure Batch: a task gets cpu, memory and nvidia.com/gpu from its container, the rest is "
        "what its node's VM size has",
        "spec.template.spec.containers[0].resources.limits.hugepages-2Mi is not carried",
        "spec.template.spec.containers[0].resources.limits.example.com/fpga is not carried",
        "spec.template.spec.containers[0].resources.requests.ephemeral-storage is not carried",
        "spec.template.spec.containers[0].resources.claims is not carried to Azure Batch",
    };
    for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
        if (!warned(&r, named[i]))
            fail_msg("no warning %s", named[i]);
    assert_int_equal(r.mutation.warnings.count, 5);
    assert_false(warned(&r, ".cpu "));
    assert_false(warned(&r, ".memory "));
    for (size_t i = 0; i < r.mutation.warnings.count; i++)
        assert_true(strlen(r.mutation.warnings.items[i]) <= 256);
    run_free(&r);
}

#define SECRETS_WARNING                                                                    \
    "spec.template.spec.containers[0] takes env values from Secrets (2 references, the first "  \
    "to \"app-secrets\"): on Azure Batch they are the Batch job's commonEnvironmentSettings, "    \
    "readable by anyone with read access to the Batch account"

/* Env values from Secrets are said to be readable on Batch, first of all the
 * warnings; a ConfigMap's or a field's are not secret. */
static void test_env_from_secrets_is_warned_about(void **state)
{
    (void)state;
    run r;
    run_fixture(&r, "env-value-from", &default_platform);
    assert_int_equal(r.mutation.outcome, MUTATION_PATCHED);
    assert_true(r.mutation.warnings.count >= 1);
    assert_string_equal(r.mutation.warnings.items[0], SECRETS_WARNING);
    assert_true(strlen(SECRETS_WARNING) <= 256);
    run_free(&r);
    /* A member name written with escapes is the same name. */
    run_edited(&r, "env-value-from", "\"env\": [", "\"\\u0065nv\": [", &default_platform);
    assert_int_equal(r.mutation.outcome, MUTATION_PATCHED);
    assert_string_equal(r.mutation.warnings.items[0], SECRETS_WARNING);
    assert_true(env_entry(&r, "BATCH_OFFLOAD_WORKER_ENV_1") >= 0);
    run_free(&r);
    run_edited(&r, "kubectl-job", "\"resources\": {}",
               "\"env\": [{\"name\": \"MODE\", \"valueFrom\": {\"configMapKeyRef\": {\"name\": "
               "\"c\", \"key\": \"k\"}}}], \"envFrom\": [{\"configMapRef\": {\"name\": \"c\"}}], "
               "\"resources\": {}",
               &default_platform);
    assert_int_equal(r.mutation.outcome, MUTATION_PATCHED);
    assert_int_equal(r.mutation.warnings.count, 0);
    run_free(&r);
}

/* --secret-env=deny: refused (403), naming the first entry and its Secret. */
static void test_env_from_secrets_can_be_denied(void **state)
{
    (void)state;
    platform_settings strict = default_platform;
    strict.deny_secret_env = true;
    assert_fixture_denied("env-value-from", &strict, 403,
                          "spec.template.spec.containers[0].env[1] (API_TOKEN) takes its value "
                          "from Secret \"app-secrets\": this cluster does not offload Jobs whose "
                          "worker takes env values from Secrets (the platform's "
                          "--secret-env=deny): on Azure Batch they would be in the Batch job's "
                          "commonEnvironmentSettings, readable by anyone with read access to the "
                          "Batch account. Let the worker read its secrets itself, with an "
                          "identity (README: Secrets)");
    run r;
    run_edited(&r, "kubectl-job", "\"resources\": {}",
               "\"envFrom\": [{\"configMapRef\": {\"name\": \"c\"}}, {\"prefix\": \"DB_\", "
               "\"secretRef\": {\"name\": \"db\"}}], \"resources\": {}",
               &strict);
    assert_int_equal(r.mutation.outcome, MUTATION_DENIED);
    assert_int_equal(r.mutation.status_code, 403);
    assert_non_null(strstr(buffer_cstr(&r.mutation.message),
                           "spec.template.spec.containers[0].envFrom[1] takes its variables from "
                           "Secret \"db\": this cluster does not offload"));
    run_free(&r);
    /* Nothing from Secrets: offloaded as ever. */
    run_fixture(&r, "kubectl-job", &strict);
    assert_int_equal(r.mutation.outcome, MUTATION_PATCHED);
    run_free(&r);
}

/* The registry password of imagePullSecrets goes with every task: warned
 * about, and not denied (--secret-env is about the worker's env). */
static void test_image_pull_secrets_are_warned_about(void **state)
{
    (void)state;
    static const char *const expected =
        "spec.template.spec.imagePullSecrets (\"acr-pull\" and 1 more): the registry password "
        "for the Job's images goes to Azure Batch with every task (containerSettings.registry), "
        "and every node of the pool logs in with it";
    platform_settings strict = default_platform;
    strict.deny_secret_env = true;
    const platform_settings *platforms[] = {&default_platform, &strict};
    for (size_t i = 0; i < 2; i++) {
        run r;
        run_fixture(&r, "image-pull-secrets", platforms[i]);
        assert_int_equal(r.mutation.outcome, MUTATION_PATCHED);
        assert_true(warned(&r, expected));
        run_free(&r);
    }
}

static void test_aggregator_args_need_an_image(void **state)
{
    (void)state;
    assert_denied("batch-offload.io/aggregator-args", "\"[\\\"x\\\"]\"", &default_platform, 400,
                  "an aggregator needs an image");
}

static void test_workload_identity_labels_the_pod(void **state)
{
    (void)state;
    platform_settings wi = default_platform;
    wi.workload_identity = true;
    wi.offloader_service_account = "batch-offloader";
    run r;
    run_fixture(&r, "kubectl-job", &wi);
    int labels = op_value(&r, "add", "/spec/template/metadata/labels");
    assert_member_string(&r.patch, labels, "azure.workload.identity/use", "true");
    int pod = op_value(&r, "add", "/spec/template/spec");
    assert_member_string(&r.patch, pod, "serviceAccountName", "batch-offloader");
    assert_true(json_is_true(&r.patch, json_object_get(&r.patch, pod,
                                                       "automountServiceAccountToken")));
    run_free(&r);
}

/* With API access the pod gets its token and learns its own name and UID
 * (downward API); without it, neither (the default). */
static void test_api_access_gives_the_pod_a_token_and_its_name(void **state)
{
    (void)state;
    platform_settings access = default_platform;
    access.api_access = true;
    access.offloader_service_account = "batch-offload-offloader";
    run r;
    run_fixture(&r, "kubectl-job", &access);
    int pod = op_value(&r, "add", "/spec/template/spec");
    assert_member_string(&r.patch, pod, "serviceAccountName", "batch-offload-offloader");
    assert_true(json_is_true(&r.patch, json_object_get(&r.patch, pod,
                                                       "automountServiceAccountToken")));
    static const char *const fields[][2] = {{"BATCH_OFFLOAD_POD_NAME", "metadata.name"},
                                            {"BATCH_OFFLOAD_POD_UID", "metadata.uid"}};
    for (size_t i = 0; i < 2; i++) {
        int entry = env_entry(&r, fields[i][0]);
        assert_true(entry >= 0);
        assert_true(json_string_equals(
            &r.patch, json_lookup(&r.patch, entry, "valueFrom", "fieldRef", "fieldPath", NULL),
            fields[i][1]));
    }
    run_free(&r);
    run_fixture(&r, "kubectl-job", &default_platform);
    pod = op_value(&r, "add", "/spec/template/spec");
    assert_false(json_is_true(&r.patch, json_object_get(&r.patch, pod,
                                                        "automountServiceAccountToken")));
    assert_int_equal(env_entry(&r, "BATCH_OFFLOAD_POD_NAME"), -1);
    run_free(&r);
}

static void test_platform_auto_pool_and_auth_settings_reach_the_offloader(void **state)
{
    (void)state;
    platform_settings custom = default_platform;
    custom.offloader_auth = "workload-identity";
    custom.pool_image = "canonical:ubuntu-24_04-lts:server:latest";
    custom.node_agent_sku = "batch.node.ubuntu 24.04";
    custom.task_slots_per_node = 4;
    custom.node_fill_type = "pack";
    custom.autoscale_formula = "$TargetDedicatedNodes = 2;";
    custom.max_nodes = 50;
    custom.spot_fallback = "dedicated";
    custom.spot_fallback_seconds = 600;
    run r;
    run_fixture(&r, "kubectl-job", &custom);
    assert_env(&r, "BATCH_OFFLOAD_AUTH", "workload-identity");
    assert_env(&r, "BATCH_OFFLOAD_POOL_IMAGE", "canonical:ubuntu-24_04-lts:server:latest");
    assert_env(&r, "BATCH_OFFLOAD_NODE_AGENT_SKU", "batch.node.ubuntu 24.04");
    assert_env(&r, "BATCH_OFFLOAD_TASK_SLOTS_PER_NODE", "4");
    assert_env(&r, "BATCH_OFFLOAD_NODE_FILL_TYPE", "pack");
    assert_env(&r, "BATCH_OFFLOAD_MAX_NODES", "50");
    assert_env(&r, "BATCH_OFFLOAD_SPOT_FALLBACK", "dedicated");
    assert_env(&r, "BATCH_OFFLOAD_SPOT_FALLBACK_SECONDS", "600");
    /* "$" doubled: the kubelet must not expand the formula's variables. */
    assert_env(&r, "BATCH_OFFLOAD_AUTOSCALE_FORMULA", "$$TargetDedicatedNodes = 2;");
    run_free(&r);
    /* Unset, the offloader's own defaults apply: nothing is written. */
    run_fixture(&r, "kubectl-job", &default_platform);
    assert_int_equal(env_entry(&r, "BATCH_OFFLOAD_AUTH"), -1);
    assert_int_equal(env_entry(&r, "BATCH_OFFLOAD_MAX_NODES"), -1);
    assert_int_equal(env_entry(&r, "BATCH_OFFLOAD_SPOT_FALLBACK"), -1);
    assert_int_equal(env_entry(&r, "BATCH_OFFLOAD_SPOT_FALLBACK_SECONDS"), -1);
    run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kubectl_job_becomes_offloader_pod),
        cmocka_unit_test(test_jobs_not_opted_in_are_left_alone),
        cmocka_unit_test(test_generate_name_prefix_comes_from_the_pod_label),
        cmocka_unit_test(test_indexed_job_loses_indexed_only_fields),
        cmocka_unit_test(test_env_sources_are_forwarded_by_index_and_dollars_escaped),
        cmocka_unit_test(test_image_pull_secrets_are_referenced_not_copied),
        cmocka_unit_test(test_cronjob_stamped_job_keeps_its_prefix),
        cmocka_unit_test(test_cronjob_runs_share_inputs_and_keep_outputs_apart),
        cmocka_unit_test(test_other_owners_keep_the_plain_layout),
        cmocka_unit_test(test_cronjob_name_that_is_no_path_segment_is_denied),
        cmocka_unit_test(test_every_annotation_reaches_the_offloader),
        cmocka_unit_test(test_fields_without_batch_counterpart_are_warned),
        cmocka_unit_test(test_captured_samples_are_rewritten),
        cmocka_unit_test(test_v1beta1_is_answered_in_v1beta1),
        cmocka_unit_test(test_bad_annotation_values_are_denied_with_what_is_allowed),
        cmocka_unit_test(test_enabled_is_true_or_false),
        cmocka_unit_test(test_platform_limits_are_enforced),
        cmocka_unit_test(test_completions_have_a_hard_limit),
        cmocka_unit_test(test_a_gpu_job_without_platform_gpus_is_refused),
        cmocka_unit_test(test_a_gpu_job_gets_the_platform_gpu_auto_pool),
        cmocka_unit_test(test_a_gpu_job_gets_the_platform_gpu_pool),
        cmocka_unit_test(test_gpu_counts_kubernetes_refuses_are_refused),
        cmocka_unit_test(test_resources_batch_does_not_get_are_warned),
        cmocka_unit_test(test_env_from_secrets_is_warned_about),
        cmocka_unit_test(test_env_from_secrets_can_be_denied),
        cmocka_unit_test(test_image_pull_secrets_are_warned_about),
        cmocka_unit_test(test_aggregator_args_need_an_image),
        cmocka_unit_test(test_workload_identity_labels_the_pod),
        cmocka_unit_test(test_api_access_gives_the_pod_a_token_and_its_name),
        cmocka_unit_test(test_platform_auto_pool_and_auth_settings_reach_the_offloader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
