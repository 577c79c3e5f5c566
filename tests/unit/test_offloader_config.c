/* The offloader's configuration (offloader/offloader_config.c): the
 * environment is read once, every problem is reported at once, each on a
 * line that starts with the variable's name and says what is allowed;
 * secrets are never echoed and are registered for redaction. */
#include "test_support.h"

#include "buffer.h"
#include "offloader_config.h"
#include "redact.h"

#define KEY TEST_BATCH_KEY

/* A valid Shared Key configuration and nothing else in the environment. */
static int minimal_environment(void **state)
{
    (void)state;
    set_minimal_offloader_environment();
    return 0;
}

/* Loads the configuration: whether it passed, and the error text. */
static bool load(buffer *errors)
{
    offloader_config config;
    buffer_init(errors, 0);
    bool ok = offloader_config_load(&config, CONFIG_FOR_WORK, errors);
    offloader_config_free(&config);
    return ok;
}

/* The error lines start with the variable's name. */
static bool has_line_for(const buffer *errors, const char *name)
{
    const char *text = buffer_cstr(errors);
    size_t n = strlen(name);
    for (const char *line = text; *line; line += strcspn(line, "\n") + (line[strcspn(line, "\n")] != 0))
        if (strncmp(line, name, n) == 0 && (line[n] == ' ' || line[n] == ':' || line[n] == ','))
            return true;
    return false;
}

static void expect_refused(const char *name, const char *value, bool echoed)
{
    buffer errors;
    if (value)
        setenv(name, value, 1);
    else
        unsetenv(name);
    if (load(&errors))
        fail_msg("%s=%s was accepted", name, value ? value : "(unset)");
    if (!has_line_for(&errors, name))
        fail_msg("no line names %s: %s", name, buffer_cstr(&errors));
    if (value && echoed && strlen(value) <= 80 && !strstr(buffer_cstr(&errors), value))
        fail_msg("the value of %s is not shown: %s", name, buffer_cstr(&errors));
    if (value && !echoed && strlen(value) >= 4 && strstr(buffer_cstr(&errors), value))
        fail_msg("the secret %s was echoed: %s", name, buffer_cstr(&errors));
    buffer_free(&errors);
}

static void test_minimal_configuration_and_defaults(void **state)
{
    (void)state;
    offloader_config config;
    buffer errors;
    buffer_init(&errors, 0);
    assert_true(offloader_config_load(&config, CONFIG_FOR_WORK, &errors));
    assert_int_equal(errors.len, 0);
    assert_string_equal(config.primary.batch_url, "https://acct.westeurope.batch.azure.com");
    assert_int_equal(config.primary.batch_key_len, 32);
    assert_int_equal(config.auth, OFFLOAD_AUTH_SHARED_KEY);
    assert_int_equal(config.completions, 10);
    assert_false(config.keep_batch_job);
    assert_null(config.pool_id);
    assert_null(config.aggregator_image);
    assert_string_equal(config.priority, "spot");
    assert_string_equal(config.spot_fallback, "wait");
    assert_int_equal(config.spot_fallback_seconds, 1800);
    assert_string_equal(config.inputs, "optional");
    assert_false(config.inputs_required);
    assert_null(config.input_prefix);
    assert_int_equal(config.retry_budget_seconds, 300);
    assert_int_equal(config.poll_max_seconds, 30);
    assert_non_null(config.api_version);
    offloader_config_free(&config);
    buffer_free(&errors);
}

static void test_each_required_variable_missing(void **state)
{
    (void)state;
    static const char *const required[] = {"BATCHCONNECTIONSTRING", "BATCHNAME", "BATCHPASSWORD",
                                           "JOBID", "WORKERIMAGENAME", "COMPLETIONS"};
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        minimal_environment(NULL);
        expect_refused(required[i], NULL, false);
    }
}

static void test_malformed_values_name_the_variable(void **state)
{
    (void)state;
    static const struct {
        const char *name, *value;
        bool echoed;
    } cases[] = {
        {"BATCHCONNECTIONSTRING", "acct.westeurope.batch.azure.com", true},
        {"BATCHCONNECTIONSTRING", "http://acct.westeurope.batch.azure.com", true},
        {"BATCHCONNECTIONSTRING", "https://acct.batch.azure.com/?comp=x", true},
        {"BATCHNAME", "Acct_1", true},
        {"BATCHPASSWORD", "not-base64-at-all!", false},
        {"BATCHPASSWORD", "c2hvcnQ=", false}, /* "short": under 16 bytes */
        {"JOBID", "job id", true},
        {"JOBID", "", true},
        {"POOLID", "pool/1", true},
        {"WORKERIMAGENAME", "Worker Image", true},
        {"COMPLETIONS", "0", true},
        {"COMPLETIONS", "100001", true},
        {"COMPLETIONS", "12abc", true},
        {"COMPLETIONS", " 5", true},
        {"COMPLETIONS", "+5", true},
        {"COMPLETIONS", "-0", true},
        {"COMPLETIONS", "-1", true},
        {"AGGREGATORIMAGENAME", "bad image", true},
        {"KEEPBATCHJOB", "yes", true},
        {"KEEPBATCHJOB", "1", true},
        {"PRIORITY", "cheap", true},
        {"BATCH_OFFLOAD_SPOT_FALLBACK", "low-priority", true},
        {"BATCH_OFFLOAD_SPOT_FALLBACK_SECONDS", "86401", true},
        {"BATCH_OFFLOAD_SPOT_FALLBACK_SECONDS", "-1", true},
        {"INPUTS", "yes", true},
        {"INPUTS", "Required", true},
        {"INPUTPREFIX", "/abs", true},
        {"INPUTPREFIX", "a/../b", true},
        {"BATCH_OFFLOAD_RETRY_BUDGET_SECONDS", "0", true},
        {"BATCH_OFFLOAD_RETRY_BUDGET_SECONDS", "86401", true},
        {"BATCH_OFFLOAD_POLL_MAX_SECONDS", "0", true},
        {"BATCH_OFFLOAD_API_VERSION", "2024-07-01", true},
        {"WORKERSPEC", "[1, 2]", true},
        {"WORKERSPEC", "{\"unterminated\": ", true},
        {"REGISTRYPASSWORD", "", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        minimal_environment(NULL);
        if (strcmp(cases[i].name, "REGISTRYPASSWORD") == 0) {
            setenv("REGISTRYNAME", "registry.example.com", 1);
            setenv("REGISTRYUSERNAME", "robot", 1);
        }
        expect_refused(cases[i].name, cases[i].value, cases[i].echoed);
    }
}

/* COMPLETIONS stops at the contract's limit, the webhook's too, and says so. */
static void test_completions_stop_at_the_contract_limit(void **state)
{
    (void)state;
    char text[24];
    snprintf(text, sizeof(text), "%d", OFFLOAD_MAX_COMPLETIONS);
    setenv("COMPLETIONS", text, 1);
    offloader_config config;
    buffer errors;
    buffer_init(&errors, 0);
    assert_true(offloader_config_load(&config, CONFIG_FOR_WORK, &errors));
    assert_int_equal(config.completions, OFFLOAD_MAX_COMPLETIONS);
    offloader_config_free(&config);
    buffer_free(&errors);
    snprintf(text, sizeof(text), "%d", OFFLOAD_MAX_COMPLETIONS + 1);
    setenv("COMPLETIONS", text, 1);
    assert_false(load(&errors));
    assert_non_null(strstr(buffer_cstr(&errors), "COMPLETIONS is \"100001\": it must be a whole "
                                                 "number from 1 to 100000"));
    buffer_free(&errors);
}

static void test_long_values_are_cut_in_messages(void **state)
{
    (void)state;
    char value[301];
    memset(value, 'x', 300);
    value[300] = '\0';
    value[0] = ' ';
    setenv("JOBID", value, 1);
    buffer errors;
    assert_false(load(&errors));
    assert_true(has_line_for(&errors, "JOBID"));
    assert_non_null(strstr(buffer_cstr(&errors), "..."));
    assert_true(errors.len < 300);
    buffer_free(&errors);
}

static void test_every_problem_at_once(void **state)
{
    (void)state;
    setenv("COMPLETIONS", "many", 1);
    setenv("JOBID", "bad id", 1);
    setenv("KEEPBATCHJOB", "maybe", 1);
    unsetenv("WORKERIMAGENAME");
    buffer errors;
    assert_false(load(&errors));
    const char *names[] = {"COMPLETIONS", "JOBID", "KEEPBATCHJOB", "WORKERIMAGENAME"};
    for (size_t i = 0; i < 4; i++)
        if (!has_line_for(&errors, names[i]))
            fail_msg("no line for %s in:\n%s", names[i], buffer_cstr(&errors));
    buffer_free(&errors);
}

static void test_variables_that_go_together(void **state)
{
    (void)state;
    static const struct {
        const char *set[3][2];
        const char *named;
    } cases[] = {
        {{{"REGISTRYUSERNAME", "robot"}}, "REGISTRYNAME"},
        {{{"REGISTRYNAME", "registry.example.com"}, {"REGISTRYPASSWORD", "pa55word"}}, "REGISTRYNAME"},
        {{{"AGGREGATORARGS", "[\"x\"]"}}, "AGGREGATORARGS"},
        {{{"STORAGEACCOUNT", "store1"}}, "STORAGEACCOUNT"},
        {{{"STORAGEACCOUNT", "store1"}, {"STORAGEKEY", KEY}}, "STORAGEACCOUNT"},
        {{{"BATCH_OFFLOAD_JOB_UID", ""}}, "BATCH_OFFLOAD_JOB_UID"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        minimal_environment(NULL);
        for (size_t v = 0; v < 3 && cases[i].set[v][0]; v++)
            setenv(cases[i].set[v][0], cases[i].set[v][1], 1);
        buffer errors;
        if (load(&errors))
            fail_msg("case %zu (%s) was accepted", i, cases[i].named);
        if (!strstr(buffer_cstr(&errors), cases[i].named))
            fail_msg("case %zu: %s not named in: %s", i, cases[i].named, buffer_cstr(&errors));
        assert_null(strstr(buffer_cstr(&errors), "pa55word"));
        buffer_free(&errors);
    }
}

static void test_secrets_are_registered_for_redaction(void **state)
{
    (void)state;
    setenv("REGISTRYNAME", "registry.example.com", 1);
    setenv("REGISTRYUSERNAME", "robot", 1);
    setenv("REGISTRYPASSWORD", "registry-secret-value", 1);
    buffer errors;
    assert_true(load(&errors));
    buffer_free(&errors);
    const char *text = "key " KEY " password registry-secret-value end";
    buffer out;
    buffer_init(&out, 0);
    redact_into(&out, text, strlen(text));
    assert_string_equal(buffer_cstr(&out), "key REDACTED password REDACTED end");
    buffer_free(&out);
}

static void test_help_describes_the_variables(void **state)
{
    (void)state;
    buffer out;
    buffer_init(&out, 0);
    offloader_config_describe(&out);
    static const char *const names[] = {"BATCHCONNECTIONSTRING", "BATCHNAME", "BATCHPASSWORD",
                                        "JOBID", "POOLID", "WORKERIMAGENAME", "COMPLETIONS",
                                        "KEEPBATCHJOB", "BATCH_OFFLOAD_RETRY_BUDGET_SECONDS"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!strstr(buffer_cstr(&out), names[i]))
            fail_msg("--help does not list %s", names[i]);
    assert_non_null(strstr(buffer_cstr(&out), "(default 300)"));
    buffer_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_minimal_configuration_and_defaults, minimal_environment),
        cmocka_unit_test_setup(test_each_required_variable_missing, minimal_environment),
        cmocka_unit_test_setup(test_malformed_values_name_the_variable, minimal_environment),
        cmocka_unit_test_setup(test_completions_stop_at_the_contract_limit, minimal_environment),
        cmocka_unit_test_setup(test_long_values_are_cut_in_messages, minimal_environment),
        cmocka_unit_test_setup(test_every_problem_at_once, minimal_environment),
        cmocka_unit_test_setup(test_variables_that_go_together, minimal_environment),
        cmocka_unit_test_setup(test_secrets_are_registered_for_redaction, minimal_environment),
        cmocka_unit_test_setup(test_help_describes_the_variables, minimal_environment),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    redact_forget_secrets();
    return failed;
}
