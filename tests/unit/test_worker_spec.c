/* The worker container from WORKERSPEC (offloader/worker_spec.c): its
 * environment resolved in the kubelet's order (envFrom sources, later ones
 * winning, then env entries in order, each value expanded with what is
 * defined so far; valueFrom values as the kubelet resolved them in the
 * offloader pod, never expanded), command, args and limits; a spec that
 * cannot be read is refused with a reason and nothing left allocated. */
#include "test_support.h"

#include "buffer.h"
#include "redact.h"
#include "worker_spec.h"

static const char *get(const worker_spec *spec, const char *name)
{
    return env_list_get(&spec->env, name);
}

static void test_environment_in_the_kubelets_order(void **state)
{
    (void)state;
    const char *json =
        "{\"container\":{\"name\":\"w\","
        "\"envFrom\":[{\"configMapRef\":{\"name\":\"a\"}},{\"secretRef\":{\"name\":\"b\"}}],"
        "\"env\":["
        "{\"name\":\"A\",\"value\":\"from-env\"},"
        "{\"name\":\"B\",\"value\":\"$(A)-$(SHARED)-$(LATER)-$$(A)\"},"
        "{\"name\":\"SECRET\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"s\",\"key\":\"k\"}}},"
        "{\"name\":\"RAW\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata.name\"}}},"
        "{\"name\":\"MISSING\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"x\",\"key\":\"y\","
        "\"optional\":true}}},"
        "{\"name\":\"MEM_MI\",\"valueFrom\":{\"resourceFieldRef\":{\"resource\":\"limits.memory\","
        "\"divisor\":\"1Mi\"}}},"
        "{\"name\":\"LATER\",\"value\":\"late\"},"
        "{\"name\":\"A\",\"value\":\"again-$(A)\"},"
        "{\"name\":\"EMPTY\"}],"
        "\"resources\":{\"limits\":{\"cpu\":\"1500m\",\"memory\":\"100Mi\"}},"
        "\"command\":[\"/bin/run\"],\"args\":[\"--x\",\"$(A)\"],\"workingDir\":\"/data\"},"
        "\"imagePullSecrets\":[{\"name\":\"pull-1\"},{\"name\":\"pull-2\"}]}";
    char *environ_list[] = {
        "BATCH_OFFLOAD_WORKER_ENVFROM_0_SHARED=from-config-map",
        "BATCH_OFFLOAD_WORKER_ENVFROM_0_A=from-config-map",
        "BATCH_OFFLOAD_WORKER_ENVFROM_1_SHARED=from-secret",
        "BATCH_OFFLOAD_WORKER_ENV_2=s3cret-$(A)",
        "BATCH_OFFLOAD_WORKER_ENV_3=pod-name",
        "BATCH_OFFLOAD_WORKER_ENV_10=not-an-env-entry",
        "UNRELATED=1",
        NULL,
    };
    worker_spec spec;
    buffer errors;
    buffer_init(&errors, 0);
    assert_true(worker_spec_read(&spec, json, environ_list, &errors));
    assert_int_equal(errors.len, 0);
    assert_string_equal(get(&spec, "SHARED"), "from-secret");       /* the later source wins */
    assert_string_equal(get(&spec, "B"), "from-env-from-secret-$(LATER)-$(A)");
    assert_string_equal(get(&spec, "SECRET"), "s3cret-$(A)");       /* not expanded */
    assert_string_equal(get(&spec, "RAW"), "pod-name");
    assert_null(get(&spec, "MISSING"));
    assert_string_equal(get(&spec, "MEM_MI"), "100");
    assert_string_equal(get(&spec, "A"), "again-from-env");          /* replaced, in place */
    assert_string_equal(get(&spec, "EMPTY"), "");
    assert_null(get(&spec, "UNRELATED"));
    assert_string_equal(spec.env.items[0].name, "SHARED");          /* envFrom first */
    assert_int_equal(spec.command.count, 1);
    assert_string_equal(spec.args.items[1], "$(A)");                /* expanded later, by the plan */
    assert_string_equal(spec.working_dir, "/data");
    assert_true(spec.cpu_limit > 1.49 && spec.cpu_limit < 1.51);
    assert_true(spec.memory_limit == 100.0 * 1024 * 1024);
    assert_int_equal(spec.pull_secrets.count, 2);
    assert_string_equal(spec.pull_secrets.items[1], "pull-2");
    /* the secretKeyRef value is registered for redaction */
    buffer out;
    buffer_init(&out, 0);
    redact_into(&out, "value s3cret-$(A) here", 22);
    assert_string_equal(buffer_cstr(&out), "value REDACTED here");
    buffer_free(&out);
    worker_spec_free(&spec);
    buffer_free(&errors);
}

static void test_without_a_spec(void **state)
{
    (void)state;
    worker_spec spec;
    buffer errors;
    buffer_init(&errors, 0);
    assert_true(worker_spec_read(&spec, NULL, NULL, &errors));
    assert_int_equal(spec.container, -1);
    assert_int_equal(spec.env.count, 0);
    worker_spec_free(&spec);
    buffer_free(&errors);
}

/* json is refused with the reason `expected` (the whole text, or a part of
 * it), in a line that starts with WORKERSPEC. */
static void assert_refused(const char *json, const char *expected, bool whole)
{
    char *environ_list[] = {NULL};
    worker_spec spec;
    buffer errors;
    buffer_init(&errors, 0);
    if (worker_spec_read(&spec, json, environ_list, &errors)) {
        worker_spec_free(&spec);
        fail_msg("accepted %s", json);
    }
    const char *said = buffer_cstr(&errors);
    if (whole ? strcmp(said, expected) != 0 : !strstr(said, expected))
        fail_msg("%s: \"%s\", expected \"%s\"", json, said, expected);
    assert_true(strncmp(said, "WORKERSPEC", 10) == 0);
    buffer_free(&errors);
}

/* Refused with a reason; under ASan, also nothing leaked (the caller frees
 * only a spec that was read). */
static void test_unreadable_specs_are_refused_cleanly(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"{not json", "not valid JSON"},
        {"{\"container\":{\"command\":\"/bin/x\"}}", "container.command must be an array"},
        {"{\"container\":{\"args\":[\"a\",1]}}", "container.args[1] must be a string"},
        {"{\"container\":{\"env\":[{\"name\":\"A\",\"value\":\"a\"},{\"value\":\"b\"}]}}",
         "container.env[1].name is missing"},
        {"{\"container\":{\"args\":[\"a\\u0000\"]}}", "cannot hold"},
        {"{\"container\":{\"resources\":{\"limits\":{\"memory\":\"lots\"}},"
         "\"env\":[{\"name\":\"A\",\"value\":\"a\"}],\"args\":[\"x\"]}}",
         "limits.memory"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_refused(cases[i][0], cases[i][1], false);
}

/* The GPU count from the container's limits (a request alone, as the webhook
 * lets through only beside an equal limit, counts too); none is 0. */
static void test_gpus_come_from_the_limits(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        long gpus;
    } cases[] = {
        {"{\"container\":{\"resources\":{\"limits\":{\"nvidia.com/gpu\":\"2\",\"cpu\":\"4\"}}}}", 2},
        {"{\"container\":{\"resources\":{\"requests\":{\"nvidia.com/gpu\":\"1\"}}}}", 1},
        {"{\"container\":{\"resources\":{\"limits\":{\"nvidia.com/gpu\":\"64\"}}}}", 64},
        {"{\"container\":{\"resources\":{\"limits\":{\"cpu\":\"1\"}}}}", 0},
        {"{\"container\":{}}", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        worker_spec spec;
        buffer errors;
        buffer_init(&errors, 0);
        if (!worker_spec_read(&spec, cases[i].json, NULL, &errors))
            fail_msg("%s: %s", cases[i].json, buffer_cstr(&errors));
        assert_int_equal(spec.gpus, cases[i].gpus);
        worker_spec_free(&spec);
        buffer_free(&errors);
    }
    assert_refused("{\"container\":{\"resources\":{\"limits\":{\"nvidia.com/gpu\":\"1500m\"}}}}",
                   "WORKERSPEC: container.resources.limits.nvidia.com/gpu must be a whole number "
                   "from 0 to 64\n", true);
    assert_refused("{\"container\":{\"resources\":{\"requests\":{\"nvidia.com/gpu\":\"65\"}}}}",
                   "WORKERSPEC: container.resources.requests.nvidia.com/gpu must be a whole number "
                   "from 0 to 64\n", true);
}

/* A WORKERSPEC that is JSON of the wrong shape is refused naming the field,
 * not read as if the field were absent. */
static void test_specs_of_the_wrong_shape_name_the_field(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"{}", "WORKERSPEC: container is missing\n"},
        {"{\"backoffLimit\":1,\"container\":null}", "WORKERSPEC: container is missing\n"},
        {"[]", "WORKERSPEC: container is missing\n"},
        {"{\"container\":\"worker\"}", "WORKERSPEC: container must be an object\n"},
        {"{\"container\":{\"name\":7}}", "WORKERSPEC: container.name must be a string\n"},
        {"{\"container\":{\"image\":[]}}", "WORKERSPEC: container.image must be a string\n"},
        {"{\"container\":{\"command\":{}}}", "WORKERSPEC: container.command must be an array\n"},
        {"{\"container\":{\"command\":[\"a\",[\"b\"]]}}",
         "WORKERSPEC: container.command[1] must be a string\n"},
        {"{\"container\":{\"args\":\"--x\"}}", "WORKERSPEC: container.args must be an array\n"},
        {"{\"container\":{\"workingDir\":1}}", "WORKERSPEC: container.workingDir must be a string\n"},
        {"{\"container\":{\"env\":\"x\"}}", "WORKERSPEC: container.env must be an array\n"},
        {"{\"container\":{\"env\":[\"A=1\"]}}", "WORKERSPEC: container.env[0] must be an object\n"},
        {"{\"container\":{\"env\":[{\"name\":\"A\"},{\"name\":1}]}}",
         "WORKERSPEC: container.env[1].name must be a string\n"},
        {"{\"container\":{\"env\":[{\"name\":\"A\",\"value\":2}]}}",
         "WORKERSPEC: container.env[0].value must be a string\n"},
        {"{\"container\":{\"env\":[{\"name\":\"A\",\"valueFrom\":\"s\"}]}}",
         "WORKERSPEC: container.env[0].valueFrom must be an object\n"},
        {"{\"container\":{\"env\":[{\"name\":\"A\",\"valueFrom\":{\"secretKeyRef\":\"s\"}}]}}",
         "WORKERSPEC: container.env[0].valueFrom.secretKeyRef must be an object\n"},
        {"{\"container\":{\"env\":[{\"name\":\"A\",\"valueFrom\":{\"resourceFieldRef\":{}}}]}}",
         "WORKERSPEC: container.env[0].valueFrom.resourceFieldRef.resource is missing\n"},
        {"{\"container\":{\"envFrom\":{\"secretRef\":{}}}}",
         "WORKERSPEC: container.envFrom must be an array\n"},
        {"{\"container\":{\"envFrom\":[{\"prefix\":1}]}}",
         "WORKERSPEC: container.envFrom[0].prefix must be a string\n"},
        {"{\"container\":{\"envFrom\":[{\"secretRef\":true}]}}",
         "WORKERSPEC: container.envFrom[0].secretRef must be an object\n"},
        {"{\"container\":{\"resources\":[]}}", "WORKERSPEC: container.resources must be an object\n"},
        {"{\"container\":{\"resources\":{\"limits\":{\"cpu\":2}}}}",
         "WORKERSPEC: container.resources.limits.cpu must be a string\n"},
        {"{\"container\":{\"resources\":{\"requests\":\"1\"}}}",
         "WORKERSPEC: container.resources.requests must be an object\n"},
        {"{\"container\":{},\"imagePullSecrets\":{\"name\":\"p\"}}",
         "WORKERSPEC: imagePullSecrets must be an array\n"},
        {"{\"container\":{},\"imagePullSecrets\":[{\"name\":[\"p\"]}]}",
         "WORKERSPEC: imagePullSecrets[0].name must be a string\n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_refused(cases[i][0], cases[i][1], true);
}

/* Null is absent, as Kubernetes reads it; fields this program does not read
 * are not checked. */
static void test_nulls_and_unread_fields_are_accepted(void **state)
{
    (void)state;
    const char *json = "{\"backoffLimitPerIndex\":null,\"container\":{\"env\":null,\"args\":null,"
                       "\"resources\":{\"limits\":null},\"ports\":\"anything\","
                       "\"envFrom\":[{\"secretRef\":null,\"configMapRef\":{\"name\":\"c\"}}]},"
                       "\"imagePullSecrets\":null}";
    char *environ_list[] = {"BATCH_OFFLOAD_WORKER_ENVFROM_0_FROM_MAP=value-from-a-config-map", NULL};
    worker_spec spec;
    buffer errors;
    buffer_init(&errors, 0);
    if (!worker_spec_read(&spec, json, environ_list, &errors))
        fail_msg("refused: %s", buffer_cstr(&errors));
    assert_string_equal(get(&spec, "FROM_MAP"), "value-from-a-config-map");
    /* secretRef null: a config map, whose values are not secrets */
    buffer out;
    buffer_init(&out, 0);
    redact_into(&out, "value-from-a-config-map", 23);
    assert_string_equal(buffer_cstr(&out), "value-from-a-config-map");
    buffer_free(&out);
    worker_spec_free(&spec);
    buffer_free(&errors);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_environment_in_the_kubelets_order),
        cmocka_unit_test(test_without_a_spec),
        cmocka_unit_test(test_unreadable_specs_are_refused_cleanly),
        cmocka_unit_test(test_gpus_come_from_the_limits),
        cmocka_unit_test(test_specs_of_the_wrong_shape_name_the_field),
        cmocka_unit_test(test_nulls_and_unread_fields_are_accepted),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    redact_forget_secrets();
    return failed;
}
