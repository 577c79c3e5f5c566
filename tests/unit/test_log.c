/* Log lines (common/log.c) as a reader parses them: one JSON object per
 * line with an RFC 3339 UTC time to the millisecond, numbers whole or to
 * three decimals, text JSON-escaped and redacted; and the plain-text form. */
#include "test_support.h"

#include <fcntl.h>
#include <unistd.h>

#include "log.h"
#include "redact.h"

/* Logs into a pipe and returns the line (without its newline). */
static char *logged(log_format format, const log_field *fields, size_t count)
{
    int pipe_fds[2];
    assert_int_equal(pipe(pipe_fds), 0);
    log_configure("unit", format, LOG_DEBUG);
    log_set_fd(pipe_fds[1]);
    log_emit(LOG_INFO, "an \"event\"", fields, count);
    close(pipe_fds[1]);
    char *line = calloc(1, 65536);
    assert_non_null(line);
    ssize_t n = read(pipe_fds[0], line, 65535);
    close(pipe_fds[0]);
    assert_true(n > 0 && line[n - 1] == '\n');
    line[n - 1] = '\0';
    return line;
}

static void assert_json_number(const char *line, const char *key, const char *text)
{
    char expected[128];
    snprintf(expected, sizeof(expected), "\"%s\":%s", key, text);
    if (!strstr(line, expected))
        fail_msg("%s not in %s", expected, line);
}

static void test_json_lines_parse_with_their_fields(void **state)
{
    (void)state;
    const log_field fields[] = {
        LOG_NUM("count", 42),         LOG_NUM("negative", -7),
        LOG_NUM("ms", 1.2344),        LOG_NUM("rounded_up", 0.9996),
        LOG_NUM("small", 0.0004),     LOG_NUM("minus_ms", -2.5),
        LOG_NUM("big", 123456789012), LOG_STR("text", "tab\there \"quoted\""),
    };
    char *line = logged(LOG_FORMAT_JSON, fields, sizeof(fields) / sizeof(fields[0]));
    json_document doc;
    parse_or_fail(&doc, line, strlen(line));
    char *time = json_string_dup(&doc, json_object_get(&doc, 0, "time"));
    assert_non_null(time);
    int y, mo, d, h, mi, s, ms;
    char z;
    assert_int_equal(sscanf(time, "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c", &y, &mo, &d, &h, &mi, &s, &ms, &z),
                     8);
    assert_int_equal(strlen(time), strlen("2026-12-02T07:01:41.551Z"));
    assert_int_equal(z, 'Z');
    assert_true(json_string_equals(&doc, json_object_get(&doc, 0, "msg"), "an \"event\""));
    assert_true(json_string_equals(&doc, json_object_get(&doc, 0, "text"), "tab\there \"quoted\""));
    assert_json_number(line, "count", "42");
    assert_json_number(line, "negative", "-7");
    assert_json_number(line, "ms", "1.234");
    assert_json_number(line, "rounded_up", "1.000");
    assert_json_number(line, "small", "0.000");
    assert_json_number(line, "minus_ms", "-2.500");
    assert_json_number(line, "big", "123456789012");
    json_document_free(&doc);
    free(time);
    free(line);
}

static void test_lines_are_redacted(void **state)
{
    (void)state;
    redact_register_secret("s3cr3t-value");
    const log_field fields[] = {LOG_STR("url", "https://x.blob.core.windows.net/c?sig=abc&sp=r"),
                                LOG_STR("echo", "the key is s3cr3t-value")};
    char *json = logged(LOG_FORMAT_JSON, fields, 2);
    char *text = logged(LOG_FORMAT_TEXT, fields, 2);
    for (char *line = json; line; line = line == json ? text : NULL) {
        assert_null(strstr(line, "s3cr3t-value"));
        assert_null(strstr(line, "sig=abc"));
        assert_non_null(strstr(line, REDACTED));
    }
    assert_non_null(strstr(text, "unit: an \"event\" url="));
    redact_forget_secrets();
    free(json);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_lines_parse_with_their_fields),
        cmocka_unit_test(test_lines_are_redacted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
