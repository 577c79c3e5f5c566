/* The Job's failure and success policy at admission (webhook/job_policy_check.c):
 * a warning for each podFailurePolicy rule Batch cannot follow as Kubernetes
 * does, nothing for the rules it can, and a denial for a successPolicy beside
 * an aggregator. */
#include "test_support.h"

#include <string.h>

#include "job_policy_check.h"

typedef struct checked {
    json_document doc;
    admission_warnings warnings;
    buffer message;
    bool allowed;
} checked;

static void check(checked *c, const char *job_spec, bool has_aggregator)
{
    char error[64];
    memset(&c->warnings, 0, sizeof(c->warnings));
    buffer_init(&c->message, 0);
    assert_true(json_document_parse(&c->doc, job_spec, strlen(job_spec), 1024, error,
                                    sizeof(error)));
    c->allowed = job_policy_check(&c->doc, 0, has_aggregator, &c->warnings, &c->message);
}

static void checked_free(checked *c)
{
    admission_warnings_free(&c->warnings);
    buffer_free(&c->message);
    json_document_free(&c->doc);
}

static bool warned(const checked *c, const char *text)
{
    for (size_t i = 0; i < c->warnings.count; i++)
        if (strstr(c->warnings.items[i], text))
            return true;
    return false;
}

static void test_rules_batch_cannot_follow_are_warned(void **state)
{
    (void)state;
    checked c;
    check(&c, "{\"backoffLimit\":3,\"podFailurePolicy\":{\"rules\":["
              "{\"action\":\"FailJob\",\"onExitCodes\":{\"operator\":\"In\",\"values\":[42]}},"
              "{\"action\":\"Ignore\",\"onExitCodes\":{\"operator\":\"In\",\"values\":[9]}},"
              "{\"action\":\"Ignore\",\"onPodConditions\":[{\"type\":\"DisruptionTarget\"}]},"
              "{\"action\":\"Count\",\"onExitCodes\":{\"operator\":\"In\",\"values\":[1]}}]}}",
          false);
    assert_true(c.allowed);
    assert_int_equal(c.warnings.count, 3);
    assert_true(warned(&c, "rules[0]: on Azure Batch it acts once the task's 3 retries"));
    assert_true(warned(&c, "rules[1] (Ignore)"));
    assert_true(warned(&c, "rules[2] (onPodConditions)"));
    assert_false(warned(&c, "rules[3]"));
    checked_free(&c);
}

static void test_without_retries_fail_job_is_exact(void **state)
{
    (void)state;
    checked c;
    check(&c, "{\"backoffLimit\":6,\"backoffLimitPerIndex\":0,\"podFailurePolicy\":{\"rules\":["
              "{\"action\":\"FailJob\",\"onExitCodes\":{\"operator\":\"In\",\"values\":[42]}}]}}",
          false);
    assert_true(c.allowed);
    assert_int_equal(c.warnings.count, 0);
    checked_free(&c);
}

static void test_success_policy_and_an_aggregator_are_denied(void **state)
{
    (void)state;
    checked c;
    const char *spec = "{\"successPolicy\":{\"rules\":[{\"succeededCount\":1}]}}";
    check(&c, spec, true);
    assert_false(c.allowed);
    assert_non_null(strstr(buffer_cstr(&c.message), "spec.successPolicy cannot be used with "
                                                    "batch-offload.io/aggregator-image"));
    checked_free(&c);
    check(&c, spec, false);
    assert_true(c.allowed);
    checked_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules_batch_cannot_follow_are_warned),
        cmocka_unit_test(test_without_retries_fail_job_is_exact),
        cmocka_unit_test(test_success_policy_and_an_aggregator_are_denied),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
