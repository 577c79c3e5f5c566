/* The Kubernetes Job's failure and success policy as the offloader applies
 * it (offloader/job_policy.c): the defaults the API server would give, the
 * podFailurePolicy's onExitCodes rules turned into disjoint exit-code spans
 * (first rule wins, exit code 0 never matched), and the verdicts of
 * backoffLimit, backoffLimitPerIndex, maxFailedIndexes and successPolicy. */
#include "test_support.h"

#include <string.h>

#include "job_policy.h"

typedef struct read_policy {
    json_document doc;
    job_policy policy;
    buffer errors;
    bool ok;
} read_policy;

static void read_from(read_policy *r, const char *workerspec, long completions)
{
    char error[64];
    buffer_init(&r->errors, 0);
    assert_true(json_document_parse(&r->doc, workerspec, strlen(workerspec), 4096, error,
                                    sizeof(error)));
    r->ok = job_policy_read(&r->policy, &r->doc, completions, &r->errors);
}

static void read_free(read_policy *r)
{
    job_policy_free(&r->policy);
    json_document_free(&r->doc);
    buffer_free(&r->errors);
}

static void assert_span(const job_policy *p, size_t i, int32_t start, int32_t end,
                        exit_code_effect effect)
{
    assert_true(i < p->span_count);
    assert_int_equal(p->spans[i].start, start);
    assert_int_equal(p->spans[i].end, end);
    assert_int_equal(p->spans[i].effect, effect);
}

static void test_defaults_are_the_api_servers(void **state)
{
    (void)state;
    read_policy r;
    read_from(&r, "{}", 10);
    assert_true(r.ok);
    assert_false(r.policy.per_index);
    assert_int_equal(r.policy.backoff_limit, 6);
    assert_int_equal(r.policy.max_failed_indexes, -1);
    assert_int_equal(r.policy.default_effect, EXIT_ENDS_JOB);
    assert_int_equal(r.policy.span_count, 0);
    read_free(&r);
    /* Beside backoffLimitPerIndex, backoffLimit defaults to "no limit". */
    read_from(&r, "{\"backoffLimitPerIndex\":1,\"backoffLimit\":2147483647}", 10);
    assert_true(r.ok);
    assert_true(r.policy.per_index);
    assert_int_equal(r.policy.backoff_limit, -1);
    assert_int_equal(r.policy.default_effect, EXIT_ENDS_INDEX);
    read_free(&r);
}

static void test_exit_codes_in_become_spans(void **state)
{
    (void)state;
    read_policy r;
    read_from(&r, "{\"backoffLimitPerIndex\":1,\"podFailurePolicy\":{\"rules\":["
                  "{\"action\":\"FailJob\",\"onExitCodes\":{\"operator\":\"In\","
                  "\"values\":[42,7,8,9]}}]}}", 10);
    assert_true(r.ok);
    assert_int_equal(r.policy.span_count, 2);
    assert_span(&r.policy, 0, 7, 9, EXIT_ENDS_JOB); /* adjacent codes merge */
    assert_span(&r.policy, 1, 42, 42, EXIT_ENDS_JOB);
    read_free(&r);
}

static void test_not_in_covers_every_other_code_but_zero(void **state)
{
    (void)state;
    read_policy r;
    read_from(&r, "{\"backoffLimitPerIndex\":0,\"podFailurePolicy\":{\"rules\":["
                  "{\"action\":\"FailJob\",\"onExitCodes\":{\"operator\":\"NotIn\","
                  "\"values\":[1,2]}}]}}", 10);
    assert_true(r.ok);
    assert_int_equal(r.policy.span_count, 2);
    assert_span(&r.policy, 0, INT32_MIN, -1, EXIT_ENDS_JOB);
    assert_span(&r.policy, 1, 3, INT32_MAX, EXIT_ENDS_JOB);
    read_free(&r);
}

static void test_the_first_matching_rule_decides(void **state)
{
    (void)state;
    read_policy r;
    /* 5 is counted by the first rule, so only 6 fails the Job; a pod-condition
     * rule has no exit codes and is passed over. */
    read_from(&r, "{\"backoffLimitPerIndex\":1,\"podFailurePolicy\":{\"rules\":["
                  "{\"action\":\"Ignore\",\"onPodConditions\":[{\"type\":\"DisruptionTarget\"}]},"
                  "{\"action\":\"Count\",\"onExitCodes\":{\"operator\":\"In\",\"values\":[5]}},"
                  "{\"action\":\"FailJob\",\"onExitCodes\":{\"operator\":\"In\","
                  "\"values\":[5,6]}}]}}", 10);
    assert_true(r.ok);
    assert_int_equal(r.policy.span_count, 1);
    assert_span(&r.policy, 0, 6, 6, EXIT_ENDS_JOB);
    read_free(&r);
    /* Without backoffLimitPerIndex any failure ends the Job; FailIndex is the API
     * server's to refuse there, and a Count rule changes nothing. */
    read_from(&r, "{\"podFailurePolicy\":{\"rules\":[{\"action\":\"Count\",\"onExitCodes\":"
                  "{\"operator\":\"In\",\"values\":[3]}}]}}", 10);
    assert_true(r.ok);
    assert_int_equal(r.policy.span_count, 0);
    read_free(&r);
}

static void test_bad_rules_are_named(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{\"podFailurePolicy\":{\"rules\":[{\"action\":\"FailJob\",\"onExitCodes\":"
        "{\"operator\":\"Is\",\"values\":[1]}}]}}",
        "{\"podFailurePolicy\":{\"rules\":[{\"action\":\"Retry\",\"onExitCodes\":"
        "{\"operator\":\"In\",\"values\":[1]}}]}}",
        "{\"podFailurePolicy\":{\"rules\":[{\"action\":\"FailJob\",\"onExitCodes\":"
        "{\"operator\":\"In\",\"values\":[4294967296]}}]}}",
        "{\"successPolicy\":{\"rules\":[{\"succeededIndexes\":\"2-1\"}]}}",
        "{\"successPolicy\":{\"rules\":[{\"succeededIndexes\":\"0,10\"}]}}",
        "{\"successPolicy\":{\"rules\":[{\"succeededIndexes\":\"3,1\"}]}}",
        "{\"successPolicy\":{\"rules\":[{\"succeededIndexes\":\"a\"}]}}",
        "{\"successPolicy\":{\"rules\":[{\"succeededCount\":11}]}}",
        "{\"successPolicy\":{\"rules\":[{}]}}",
        "{\"maxFailedIndexes\":-1}",
    };
    static const char *const named[] = {
        "operator", "action", "values", "succeededIndexes", "succeededIndexes",
        "succeededIndexes", "succeededIndexes", "succeededCount", "rules[0] needs",
        "maxFailedIndexes",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        read_policy r;
        read_from(&r, bad[i], 10);
        assert_false(r.ok);
        assert_non_null(strstr(buffer_cstr(&r.errors), named[i]));
        read_free(&r);
    }
}

static void test_backoff_limit_counts_every_failed_attempt(void **state)
{
    (void)state;
    read_policy r;
    read_from(&r, "{\"backoffLimit\":6}", 10);
    worker_tally t = {.failed_attempts = 6};
    assert_int_equal(job_policy_judge(&r.policy, &t), POLICY_GO_ON);
    t.failed_attempts = 7;
    assert_int_equal(job_policy_judge(&r.policy, &t), POLICY_FAILED_BACKOFF);
    t.failed_attempts = -1; /* not read yet */
    assert_int_equal(job_policy_judge(&r.policy, &t), POLICY_GO_ON);
    read_free(&r);
}

static void test_failed_indexes_end_the_job_early_or_at_the_end(void **state)
{
    (void)state;
    read_policy r;
    read_from(&r, "{\"backoffLimitPerIndex\":1,\"maxFailedIndexes\":1}", 10);
    worker_tally t = {.succeeded = 5, .failed = 1, .done = 6, .failed_attempts = -1};
    assert_int_equal(job_policy_judge(&r.policy, &t), POLICY_GO_ON); /* the others go on */
    t.succeeded = 9, t.done = 10;
    assert_int_equal(job_policy_judge(&r.policy, &t), POLICY_FAILED_INDEXES);
    t.succeeded = 3, t.failed = 2, t.done = 5;
    assert_int_equal(job_policy_judge(&r.policy, &t), POLICY_FAILED_MAX_INDEXES);
    read_free(&r);
}

static void test_success_policy_counts_and_indexes(void **state)
{
    (void)state;
    read_policy r;
    read_from(&r, "{\"successPolicy\":{\"rules\":[{\"succeededCount\":3}]}}", 10);
    worker_tally t = {.succeeded = 2, .done = 2, .failed_attempts = -1};
    assert_int_equal(job_policy_judge(&r.policy, &t), POLICY_GO_ON);
    t.succeeded = 3;
    assert_int_equal(job_policy_judge(&r.policy, &t), POLICY_SUCCEEDED);
    read_free(&r);

    read_from(&r, "{\"successPolicy\":{\"rules\":[{\"succeededIndexes\":\"0-1,9\"},"
                  "{\"succeededIndexes\":\"2-8\",\"succeededCount\":6}]}}", 10);
    assert_true(r.ok);
    assert_true(r.policy.success_needs_indexes);
    unsigned char succeeded[2] = {0};
    t = (worker_tally){.succeeded = 2, .failed_attempts = -1, .succeeded_indexes = succeeded};
    succeeded[0] = 0x03; /* 0 and 1, but not 9 */
    assert_int_equal(job_policy_judge(&r.policy, &t), POLICY_GO_ON);
    succeeded[1] = 0x02; /* 9 */
    assert_int_equal(job_policy_judge(&r.policy, &t), POLICY_SUCCEEDED);
    succeeded[0] = 0x7c, succeeded[1] = 0; /* 2..6: five of the six needed */
    assert_int_equal(job_policy_judge(&r.policy, &t), POLICY_GO_ON);
    succeeded[0] = 0xfc; /* 2..7 */
    assert_int_equal(job_policy_judge(&r.policy, &t), POLICY_SUCCEEDED);
    read_free(&r);
}

static void test_verdicts_are_told_in_the_jobs_terms(void **state)
{
    (void)state;
    read_policy r;
    read_from(&r, "{\"backoffLimit\":2}", 4);
    worker_tally t = {.failed_attempts = 3};
    char line[256];
    job_policy_describe(&r.policy, POLICY_FAILED_BACKOFF, &t, line, sizeof(line));
    assert_string_equal(line, "3 failed attempts of worker tasks: more than backoffLimit 2");
    assert_string_equal(job_policy_terminate_reason(POLICY_FAILED_BACKOFF),
                        "BackoffLimitExceeded");
    assert_string_equal(job_policy_terminate_reason(POLICY_SUCCEEDED), "SuccessCriteriaMet");
    assert_null(job_policy_terminate_reason(POLICY_GO_ON));
    read_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_are_the_api_servers),
        cmocka_unit_test(test_exit_codes_in_become_spans),
        cmocka_unit_test(test_not_in_covers_every_other_code_but_zero),
        cmocka_unit_test(test_the_first_matching_rule_decides),
        cmocka_unit_test(test_bad_rules_are_named),
        cmocka_unit_test(test_backoff_limit_counts_every_failed_attempt),
        cmocka_unit_test(test_failed_indexes_end_the_job_early_or_at_the_end),
        cmocka_unit_test(test_success_policy_counts_and_indexes),
        cmocka_unit_test(test_verdicts_are_told_in_the_jobs_terms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
