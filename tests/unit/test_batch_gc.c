/* gc's verdict on one Batch job (offloader/batch_gc.c): deleted only on
 * evidence (batch-offload's metadata naming a Job, and the API server's
 * answer for that Job), kept on anything less; and the timestamps it reads
 * from the result annotation (common/clock.c). */
#include "test_support.h"

#include "batch_gc.h"
#include "clock.h"

#define NOW ((time_t)1800000000) /* 2027-01-15T08:00:00Z */
#define DAY (24 * 3600L)

static batch_job_summary ours(void)
{
    batch_job_summary job = {.id = "bo-0b7d5f4c", .state = JOB_STATE_ACTIVE,
                             .made_by_offloader = true, .namespace_name = "team-a",
                             .job_name = "wordcount", .job_uid = "0b7d5f4c-3e1a"};
    return job;
}

static char *result_recorded(time_t when)
{
    char stamp[32];
    clock_iso8601(when, stamp);
    static char text[160];
    snprintf(text, sizeof(text), "{\"outcome\":\"succeeded\",\"exitCode\":0,\"recordedAt\":\"%s\"}",
             stamp);
    return text;
}

static void test_a_gone_job_is_orphaned(void **state)
{
    (void)state;
    batch_job_summary job = ours();
    kube_job_state gone = {.answered = true, .exists = false};
    assert_int_equal(gc_judge(&job, &gone, NOW, DAY), GC_ORPHANED);
    job.state = JOB_STATE_COMPLETED; /* finished or not, its Job is gone */
    assert_int_equal(gc_judge(&job, &gone, NOW, DAY), GC_ORPHANED);
}

static void test_anything_short_of_evidence_leaves_the_job(void **state)
{
    (void)state;
    kube_job_state gone = {.answered = true, .exists = false};
    kube_job_state unanswered = {.answered = false};
    batch_job_summary job = ours();
    assert_int_equal(gc_judge(&job, &unanswered, NOW, DAY), GC_LEAVE);
    assert_int_equal(gc_judge(&job, NULL, NOW, DAY), GC_LEAVE);

    job.made_by_offloader = false; /* someone else's job, whatever its metadata says */
    assert_int_equal(gc_judge(&job, &gone, NOW, DAY), GC_LEAVE);
    job = ours();
    job.job_uid[0] = '\0'; /* cannot tell which Job of that name */
    assert_int_equal(gc_judge(&job, &gone, NOW, DAY), GC_LEAVE);
    job = ours();
    job.namespace_name[0] = '\0';
    assert_int_equal(gc_judge(&job, &gone, NOW, DAY), GC_LEAVE);
    job = ours();
    job.state = JOB_STATE_DELETING; /* already going */
    assert_int_equal(gc_judge(&job, &gone, NOW, DAY), GC_LEAVE);
}

static void test_a_live_job_is_left_until_its_result_is_old(void **state)
{
    (void)state;
    batch_job_summary job = ours();
    kube_job_state running = {.answered = true, .exists = true};
    assert_int_equal(gc_judge(&job, &running, NOW, DAY), GC_LEAVE);

    kube_job_state finished = {.answered = true, .exists = true,
                               .result = result_recorded(NOW - DAY + 60)};
    assert_int_equal(gc_judge(&job, &finished, NOW, DAY), GC_LEAVE);
    finished.result = result_recorded(NOW - DAY - 60);
    assert_int_equal(gc_judge(&job, &finished, NOW, DAY), GC_EXPIRED);
    finished.deleting = true; /* its pod is ending it: not gc's to race */
    assert_int_equal(gc_judge(&job, &finished, NOW, DAY), GC_LEAVE);
}

static void test_a_result_without_a_readable_time_is_kept(void **state)
{
    (void)state;
    batch_job_summary job = ours();
    const char *results[] = {"not json", "{\"outcome\":\"failed\"}", "[]",
                             "{\"recordedAt\":\"yesterday\"}",
                             "{\"recordedAt\":\"2020-01-01T00:00:00+02:00\"}",
                             "{\"recordedAt\":\"2020-13-01T00:00:00Z\"}",
                             "{\"recordedAt\":2020}"};
    for (size_t i = 0; i < sizeof(results) / sizeof(results[0]); i++) {
        kube_job_state finished = {.answered = true, .exists = true, .result = (char *)results[i]};
        assert_int_equal(gc_judge(&job, &finished, NOW, DAY), GC_LEAVE);
    }
}

static void test_timestamps_read_back_as_written(void **state)
{
    (void)state;
    const time_t times[] = {0, 951782400 /* 2000-02-29 */, NOW, 4102444799 /* 2099-12-31 */};
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        char text[32];
        clock_iso8601(times[i], text);
        time_t back;
        assert_true(clock_iso8601_parse(text, &back));
        assert_int_equal(back, times[i]);
    }
    time_t ignored;
    const char *wrong[] = {"", "2026-12-02", "2026-12-02T10:00:00", "2026-12-02T10:00:00Zx",
                           "2026-12-02T24:00:00Z", "2026-00-02T10:00:00Z",
                           " 2026-12-02T10:00:00Z", "2026-12-02T10:00:00.5Z"};
    for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++)
        assert_false(clock_iso8601_parse(wrong[i], &ignored));
    assert_false(clock_iso8601_parse(NULL, &ignored));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_gone_job_is_orphaned),
        cmocka_unit_test(test_anything_short_of_evidence_leaves_the_job),
        cmocka_unit_test(test_a_live_job_is_left_until_its_result_is_old),
        cmocka_unit_test(test_a_result_without_a_readable_time_is_kept),
        cmocka_unit_test(test_timestamps_read_back_as_written),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
