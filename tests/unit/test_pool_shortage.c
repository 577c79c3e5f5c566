/* What a pool's resize errors mean and what a Spot fallback does
 * (offloader/pool_shortage.c), decided from the pool as Batch shows it:
 * the codes of Microsoft.Azure.Batch PoolResizeErrorCodes, Compute's own
 * refusal inside AllocationFailed, Spot or not, the platform's setting. */
#include "test_support.h"

#include "pool_shortage.h"

/* A pool with no nodes of either kind and these resize errors (code, message, values). */
static batch_pool_info pool_with(const char *const errors[][3], size_t count)
{
    batch_pool_info pool;
    memset(&pool, 0, sizeof(pool));
    for (size_t i = 0; i < count && i < POOL_RESIZE_ERRORS_KEPT; i++) {
        pool_resize_error *e = &pool.errors[pool.error_count++];
        snprintf(e->code, sizeof(e->code), "%s", errors[i][0]);
        snprintf(e->message, sizeof(e->message), "%s", errors[i][1]);
        snprintf(e->values, sizeof(e->values), "%s", errors[i][2]);
    }
    return pool;
}

static pool_shortage classify_one(const char *code, const char *message, const char *values,
                                  bool wants_spot)
{
    const char *const errors[][3] = {{code, message, values}};
    batch_pool_info pool = pool_with(errors, 1);
    return pool_shortage_classify(&pool, wants_spot);
}

static void test_no_resize_error_is_no_shortage(void **state)
{
    (void)state;
    batch_pool_info pool = pool_with(NULL, 0);
    assert_int_equal(pool_shortage_classify(&pool, true), SHORTAGE_NONE);
    assert_int_equal(pool_shortage_classify(&pool, false), SHORTAGE_NONE);
}

static void test_spot_causes_are_told_apart(void **state)
{
    (void)state;
    assert_int_equal(classify_one("AccountLowPriorityCoreQuotaReached",
                                  "The specified account has reached low priority core quota", "",
                                  true),
                     SHORTAGE_SPOT_ACCOUNT_QUOTA);
    assert_int_equal(classify_one("AccountSpotCoreQuotaReached", "", "", true),
                     SHORTAGE_SPOT_ACCOUNT_QUOTA);
    /* A user-subscription account: Compute's refusal rides in "Provider Error Json". */
    assert_int_equal(
        classify_one("AllocationFailed", "Desired number of low priority nodes could not be allocated",
                     "Provider Error Json: {\"error\": {\"code\": \"OperationNotAllowed\", \"message\": "
                     "\"Operation could not be completed as it results in exceeding approved "
                     "LowPriorityCores quota.\"}}",
                     true),
        SHORTAGE_SPOT_SUBSCRIPTION_QUOTA);
    /* The service's spelling (Azure/Batch#40) and the SDK's. */
    assert_int_equal(classify_one("AllocationTimedout", "Desired number of low priority nodes could "
                                  "not be allocated as the resize timeout was reached", "", true),
                     SHORTAGE_SPOT_CAPACITY);
    assert_int_equal(classify_one("AllocationTimedOut", "", "", true), SHORTAGE_SPOT_CAPACITY);
    assert_int_equal(classify_one("AllocationFailed", "Desired number of low priority nodes could "
                                  "not be allocated", "Reason: zonal allocation failed", true),
                     SHORTAGE_SPOT_OTHER);
    for (pool_shortage s = SHORTAGE_SPOT_ACCOUNT_QUOTA; s <= SHORTAGE_SPOT_OTHER; s++) {
        assert_true(pool_shortage_is_spot(s));
        assert_non_null(strstr(pool_shortage_remedy(s), "dedicated"));
    }
    assert_non_null(strstr(pool_shortage_remedy(SHORTAGE_SPOT_ACCOUNT_QUOTA), "Batch account"));
    assert_non_null(strstr(pool_shortage_remedy(SHORTAGE_SPOT_SUBSCRIPTION_QUOTA), "subscription"));
    assert_non_null(strstr(pool_shortage_cause(SHORTAGE_SPOT_CAPACITY), "capacity"));
}

static void test_a_quota_wins_over_the_timeout_it_causes(void **state)
{
    (void)state;
    const char *const errors[][3] = {
        {"AllocationTimedout", "Desired number of low priority nodes could not be allocated", ""},
        {"AccountLowPriorityCoreQuotaReached", "quota", ""}};
    batch_pool_info pool = pool_with(errors, 2);
    assert_int_equal(pool_shortage_classify(&pool, true), SHORTAGE_SPOT_ACCOUNT_QUOTA);
}

static void test_not_spot_when_the_pool_has_spot_nodes_or_wants_none(void **state)
{
    (void)state;
    /* A dedicated pool (or one a fallback switched) with a timeout: not a Spot shortage. */
    assert_int_equal(classify_one("AllocationTimedout", "dedicated", "", false), SHORTAGE_OTHER);
    const char *const errors[][3] = {{"AllocationTimedout", "", ""}};
    batch_pool_info pool = pool_with(errors, 1);
    pool.current_spot = 3; /* some Spot nodes came: the tasks are not stuck on Spot */
    assert_int_equal(pool_shortage_classify(&pool, true), SHORTAGE_OTHER);
    /* The dedicated core quota in a Spot pool is not what Spot lacks. */
    assert_int_equal(classify_one("AccountCoreQuotaReached", "", "", true), SHORTAGE_OTHER);
    assert_false(pool_shortage_is_spot(SHORTAGE_OTHER));
    assert_false(pool_shortage_is_spot(SHORTAGE_VM_SIZE));
}

static void test_a_vm_size_refusal_is_its_own_kind(void **state)
{
    (void)state;
    assert_int_equal(classify_one("UnsupportedVMSize", "Requested VM size is not supported", "",
                                  true),
                     SHORTAGE_VM_SIZE);
    assert_int_equal(classify_one("IncompatibleVMSize", "", "", false), SHORTAGE_VM_SIZE);
    assert_non_null(strstr(pool_shortage_remedy(SHORTAGE_VM_SIZE), "vm-size"));
}

static void test_wait_never_switches(void **state)
{
    (void)state;
    uint64_t left;
    assert_int_equal(spot_fallback_decide("wait", 0, 1000, 10000000, &left), SPOT_KEEP_WAITING);
    assert_int_equal(left, UINT64_MAX);
    assert_int_equal(spot_fallback_decide(NULL, 0, 0, 1, &left), SPOT_KEEP_WAITING);
}

static void test_dedicated_switches_once_the_timeout_passed(void **state)
{
    (void)state;
    uint64_t left;
    assert_int_equal(spot_fallback_decide("dedicated", 1800, 5000, 5000 + 1799999, &left),
                     SPOT_KEEP_WAITING);
    assert_int_equal(left, 1);
    assert_int_equal(spot_fallback_decide("dedicated", 1800, 5000, 5000 + 1800000, &left),
                     SPOT_SWITCH_TO_DEDICATED);
    assert_int_equal(left, 0);
    /* 0 s: at the first sight of the shortage. */
    assert_int_equal(spot_fallback_decide("dedicated", 0, 7000, 7000, &left),
                     SPOT_SWITCH_TO_DEDICATED);
    /* A clock read before the shortage began counts as no time waited. */
    assert_int_equal(spot_fallback_decide("dedicated", 60, 9000, 8000, &left), SPOT_KEEP_WAITING);
    assert_int_equal(left, 60000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_resize_error_is_no_shortage),
        cmocka_unit_test(test_spot_causes_are_told_apart),
        cmocka_unit_test(test_a_quota_wins_over_the_timeout_it_causes),
        cmocka_unit_test(test_not_spot_when_the_pool_has_spot_nodes_or_wants_none),
        cmocka_unit_test(test_a_vm_size_refusal_is_its_own_kind),
        cmocka_unit_test(test_wait_never_switches),
        cmocka_unit_test(test_dedicated_switches_once_the_timeout_passed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
