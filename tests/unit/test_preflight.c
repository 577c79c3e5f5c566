/* The pre-flight's decisions (offloader/preflight.c), before any Batch job
 * exists: a named pool that is missing, going away or without a container
 * configuration is refused naming the pool, the account and what it needs;
 * an auto pool's image must be one Pools_ListSupportedImages lists, with
 * its node agent; what does not stop a run is only a warning. */
#include "test_support.h"

#include "preflight.h"

static const azure_account account = {
    .label = "primary",
    .batch_url = "https://acct.westeurope.batch.azure.com",
    .batch_name = "acct",
};

static batch_pool_info container_pool(void)
{
    batch_pool_info pool;
    memset(&pool, 0, sizeof(pool));
    pool.has_container_configuration = true;
    return pool;
}

static void expect_refusal(bool found, const batch_pool_info *pool, const char *const parts[])
{
    buffer why;
    buffer_init(&why, 0);
    assert_false(preflight_pool_usable("render-pool", &account, found, pool, &why));
    for (size_t i = 0; parts[i]; i++)
        if (!strstr(buffer_cstr(&why), parts[i]))
            fail_msg("\"%s\" is not in: %s", parts[i], buffer_cstr(&why));
    buffer_free(&why);
}

static void test_a_usable_pool_passes(void **state)
{
    (void)state;
    batch_pool_info pool = container_pool();
    pool.error_count = 1; /* an old resize error never stops a run: it may be stale */
    snprintf(pool.errors[0].code, sizeof(pool.errors[0].code), "AllocationTimedout");
    buffer why;
    buffer_init(&why, 0);
    assert_true(preflight_pool_usable("render-pool", &account, true, &pool, &why));
    assert_int_equal(why.len, 0);
    buffer_free(&why);
}

static void test_a_missing_pool_names_the_pool_and_the_account(void **state)
{
    (void)state;
    batch_pool_info none;
    memset(&none, 0, sizeof(none));
    expect_refusal(false, &none, (const char *const[]){"pool render-pool does not exist",
                                                       "Batch account acct",
                                                       "https://acct.westeurope.batch.azure.com",
                                                       "batch-offload.io/pool", NULL});
}

static void test_a_pool_being_deleted_is_refused(void **state)
{
    (void)state;
    batch_pool_info pool = container_pool();
    pool.deleting = true;
    expect_refusal(true, &pool, (const char *const[]){"render-pool", "is being deleted", NULL});
}

static void test_a_pool_without_containers_says_what_it_needs(void **state)
{
    (void)state;
    batch_pool_info pool = container_pool();
    pool.has_container_configuration = false;
    expect_refusal(true, &pool,
                   (const char *const[]){"render-pool", "has no container configuration",
                                         "virtualMachineConfiguration.containerConfiguration",
                                         "dockerCompatible", NULL});
}

static const supported_image images[] = {
    {"microsoft-dsvm", "ubuntu-hpc", "2204", "batch.node.ubuntu 22.04", true,
     "2027-06-30T00:00:00Z"},
    {"canonical", "ubuntu-24_04-lts", "server", "batch.node.ubuntu 24.04", false, ""},
    {"microsoft-dsvm", "ubuntu-hpc", "2004", "batch.node.ubuntu 20.04", true,
     "2025-04-30T00:00:00Z"},
};

static image_verdict judge(const char *image, const char *agent, buffer *why, buffer *warnings)
{
    buffer_init(why, 0);
    buffer_init(warnings, 0);
    return preflight_judge_image(images, 3, image, agent, "acct", why, warnings);
}

static void test_a_supported_image_passes_ignoring_case_and_version(void **state)
{
    (void)state;
    buffer why, warnings;
    assert_int_equal(judge("Microsoft-DSVM:Ubuntu-HPC:2204:latest", "batch.node.ubuntu 22.04",
                           &why, &warnings),
                     IMAGE_SUPPORTED);
    assert_int_equal(why.len, 0);
    assert_int_equal(warnings.len, 0); /* support ends later */
    buffer_free(&why);
    buffer_free(&warnings);
}

static void test_an_unsupported_image_is_refused_with_alternatives(void **state)
{
    (void)state;
    buffer why, warnings;
    assert_int_equal(judge("contoso:secret:1:latest", "batch.node.ubuntu 22.04", &why, &warnings),
                     IMAGE_NOT_SUPPORTED);
    const char *text = buffer_cstr(&why);
    assert_non_null(strstr(text, "contoso:secret:1"));
    assert_non_null(strstr(text, "BATCH_OFFLOAD_POOL_IMAGE"));
    assert_non_null(strstr(text, "account acct"));
    /* the container-ready ones are suggested first */
    assert_true(strstr(text, "microsoft-dsvm:ubuntu-hpc:2204") < strstr(text, "canonical"));
    buffer_free(&why);
    buffer_free(&warnings);
    buffer_init(&why, 0);
    buffer_init(&warnings, 0);
    assert_int_equal(preflight_judge_image(NULL, 0, "contoso:secret:1:latest", "x", "acct", &why,
                                           &warnings),
                     IMAGE_NOT_SUPPORTED);
    assert_non_null(strstr(buffer_cstr(&why), "lists 0"));
    buffer_free(&why);
    buffer_free(&warnings);
}

static void test_the_wrong_node_agent_is_refused_naming_the_right_one(void **state)
{
    (void)state;
    buffer why, warnings;
    assert_int_equal(judge("canonical:ubuntu-24_04-lts:server:latest", "batch.node.ubuntu 22.04",
                           &why, &warnings),
                     IMAGE_WRONG_NODE_AGENT);
    assert_non_null(strstr(buffer_cstr(&why), "needs node agent SKU \"batch.node.ubuntu 24.04\""));
    assert_non_null(strstr(buffer_cstr(&why), "BATCH_OFFLOAD_NODE_AGENT_SKU"));
    buffer_free(&why);
    buffer_free(&warnings);
}

static void test_what_does_not_stop_a_run_is_a_warning(void **state)
{
    (void)state;
    buffer why, warnings;
    assert_int_equal(judge("canonical:ubuntu-24_04-lts:server:latest", "batch.node.ubuntu 24.04",
                           &why, &warnings),
                     IMAGE_SUPPORTED);
    assert_non_null(strstr(buffer_cstr(&warnings), "DockerCompatible"));
    buffer_free(&why);
    buffer_free(&warnings);
    assert_int_equal(judge("microsoft-dsvm:ubuntu-hpc:2004:latest", "batch.node.ubuntu 20.04",
                           &why, &warnings),
                     IMAGE_SUPPORTED);
    assert_non_null(strstr(buffer_cstr(&warnings), "ended 2025-04-30"));
    buffer_free(&why);
    buffer_free(&warnings);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_usable_pool_passes),
        cmocka_unit_test(test_a_missing_pool_names_the_pool_and_the_account),
        cmocka_unit_test(test_a_pool_being_deleted_is_refused),
        cmocka_unit_test(test_a_pool_without_containers_says_what_it_needs),
        cmocka_unit_test(test_a_supported_image_passes_ignoring_case_and_version),
        cmocka_unit_test(test_an_unsupported_image_is_refused_with_alternatives),
        cmocka_unit_test(test_the_wrong_node_agent_is_refused_naming_the_right_one),
        cmocka_unit_test(test_what_does_not_stop_a_run_is_a_warning),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
