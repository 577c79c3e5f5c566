/* When the offloader tries a request again (azure/retry_policy.c): what
 * counts as transient, full-jitter backoff under its cap, a server's
 * Retry-After followed as given, and the attempt and time budgets. */
#include "test_support.h"

#include "retry_policy.h"
#include "tls.h"

static const retry_policy policy = {.max_attempts = 12, .base_delay_ms = 500,
                                    .max_delay_ms = 30000, .budget_ms = 300000};

static void test_classify(void **state)
{
    (void)state;
    static const long transient[] = {408, 429, 500, 502, 503, 504, 599};
    static const long refused[] = {400, 401, 403, 404, 409, 413, 501, 505};
    static const long success[] = {200, 201, 202, 204};
    for (size_t i = 0; i < sizeof(transient) / sizeof(transient[0]); i++)
        assert_int_equal(answer_classify(transient[i]), ANSWER_TRANSIENT);
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        assert_int_equal(answer_classify(refused[i]), ANSWER_REFUSED);
    for (size_t i = 0; i < sizeof(success) / sizeof(success[0]); i++)
        assert_int_equal(answer_classify(success[i]), ANSWER_SUCCESS);
    assert_int_equal(answer_classify(0), ANSWER_TRANSIENT); /* no answer at all */
}

static void test_backoff_stays_under_its_growing_cap(void **state)
{
    (void)state;
    for (int attempt = 1; attempt < 12; attempt++) {
        uint64_t cap = 500;
        for (int i = 1; i < attempt && cap < 30000; i++)
            cap *= 2;
        if (cap > 30000)
            cap = 30000;
        int64_t longest = 0;
        for (int i = 0; i < 200; i++) {
            int64_t delay = retry_delay_ms(&policy, attempt, 0, -1);
            assert_true(delay >= 0 && (uint64_t)delay <= cap);
            if (delay > longest)
                longest = delay;
        }
        assert_true((uint64_t)longest > cap / 2); /* jitter spreads over the whole range */
    }
}

static void test_retry_after_is_followed_as_given(void **state)
{
    (void)state;
    /* late in a backoff the cap is 30 s; the server said 1 s: about 1 s */
    for (int i = 0; i < 200; i++) {
        int64_t delay = retry_delay_ms(&policy, 10, 5000, 1000);
        assert_true(delay >= 1000 && delay <= 1100);
    }
    for (int i = 0; i < 50; i++) {
        int64_t delay = retry_delay_ms(&policy, 1, 0, 20000); /* above the first cap: still 20 s */
        assert_true(delay >= 20000 && delay <= 22000);
    }
    for (int i = 0; i < 50; i++) { /* "come back now": after the shortest backoff step */
        int64_t delay = retry_delay_ms(&policy, 3, 0, 0);
        assert_true(delay >= 500 && delay <= 550);
    }
}

static void test_budgets(void **state)
{
    (void)state;
    assert_int_equal(retry_delay_ms(&policy, 12, 0, -1), -1);      /* attempts used up */
    assert_int_equal(retry_delay_ms(&policy, 2, 300000, -1), -1);  /* time used up */
    assert_int_equal(retry_delay_ms(&policy, 2, 299500, 1000), -1); /* the wait would pass it */
    assert_true(retry_delay_ms(&policy, 2, 298000, 1000) >= 1000);
    retry_policy budget_only = policy;
    budget_only.max_attempts = 0;
    assert_true(retry_delay_ms(&budget_only, 1000, 0, -1) >= 0);       /* no count limit */
    assert_int_equal(retry_delay_ms(&budget_only, 1000, 300000, -1), -1); /* but the budget */
}

static void test_retry_after_parse(void **state)
{
    (void)state;
    assert_int_equal(retry_after_parse("1", 0), 1000);
    assert_int_equal(retry_after_parse("0", 0), 0);
    assert_int_equal(retry_after_parse("120", 0), 120000);
    assert_int_equal(retry_after_parse("", 0), -1);
    assert_int_equal(retry_after_parse(NULL, 0), -1);
    assert_int_equal(retry_after_parse("-5", 0), -1);
    assert_int_equal(retry_after_parse("1.5", 0), -1);
    assert_int_equal(retry_after_parse("soon", 0), -1);
    assert_int_equal(retry_after_parse("99999", 0), -1); /* over an hour: not believed */
    /* an HTTP date 30 s after "now" (Mon, 23 Nov 2026 18:00:00 GMT = 1795456800) */
    assert_int_equal(retry_after_parse("Mon, 23 Nov 2026 18:00:30 GMT", 1795456800), 30000);
    assert_int_equal(retry_after_parse("Mon, 23 Nov 2026 17:59:00 GMT", 1795456800), 0);
    assert_int_equal(retry_after_parse("Mon, 23 Nov 2026 18:00:30 GMT trailing", 1795456800),
                     -1);
}

int main(void)
{
    tls_global_init(); /* the jitter's random bytes */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_backoff_stays_under_its_growing_cap),
        cmocka_unit_test(test_retry_after_is_followed_as_given),
        cmocka_unit_test(test_budgets),
        cmocka_unit_test(test_retry_after_parse),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    tls_thread_cleanup();
    return failed;
}
