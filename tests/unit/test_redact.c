/* Secret redaction beyond the basic patterns (test_common_text.c): any number
 * of registered secrets, passwords in URLs of any scheme, secrets that span
 * lines. */
#include "test_support.h"

#include "buffer.h"
#include "redact.h"

static char *redacted(const char *text)
{
    buffer out;
    buffer_init(&out, 0);
    redact_into(&out, text, strlen(text));
    assert_true(buffer_ok(&out));
    return out.data ? out.data : strdup("");
}

/* Each {text, what it must become}. */
static void assert_each_redacted(const char *const cases[][2], size_t count)
{
    for (size_t i = 0; i < count; i++) {
        char *out = redacted(cases[i][0]);
        if (strcmp(out, cases[i][1]) != 0)
            fail_msg("\"%s\" became \"%s\", expected \"%s\"", cases[i][0], out, cases[i][1]);
        free(out);
    }
}

static size_t occurrences(const char *text, const char *what)
{
    size_t n = 0;
    for (const char *at = text; (at = strstr(at, what)) != NULL; at += strlen(what))
        n++;
    return n;
}

static int forget(void **state)
{
    (void)state;
    redact_forget_secrets();
    return 0;
}

/* Like the 80 keys of an envFrom Secret and more: every one is masked. */
static void test_hundreds_of_registered_secrets_are_all_masked(void **state)
{
    (void)state;
    enum { SECRETS = 200 };
    static const char first_bytes[] = "AbQz09+/xK";
    char values[SECRETS][48];
    buffer text;
    buffer_init(&text, 0);
    for (int i = 0; i < SECRETS; i++) {
        /* first bytes shared by many, lengths varied, some a prefix of others */
        snprintf(values[i], sizeof(values[i]), "%c%0*d-key-%d", first_bytes[i % 10], 4 + i % 7, i,
                 i * 7919);
        redact_register_secret(values[i]);
        buffer_appendf(&text, "VAR_%d=%s\n", i, values[i]);
    }
    char *out = redacted(buffer_cstr(&text));
    for (int i = 0; i < SECRETS; i++)
        if (strstr(out, values[i]))
            fail_msg("secret #%d (%s) was printed", i, values[i]);
    assert_int_equal(occurrences(out, "=" REDACTED "\n"), SECRETS);
    free(out);
    buffer_free(&text);
}

/* A secret and a longer one that starts with it: the longer is masked whole,
 * whichever was registered first. */
static void test_the_longest_registered_secret_wins(void **state)
{
    (void)state;
    redact_register_secret("abcd");
    redact_register_secret("abcdefgh");
    redact_register_secret("abcdef");
    char *out = redacted("x abcdefgh y abcdef z abcd!");
    assert_string_equal(out, "x " REDACTED " y " REDACTED " z " REDACTED "!");
    free(out);
}

/* Secrets and patterns that overlap: the union is masked, nothing of either
 * is printed. */
static void test_overlapping_secrets_and_patterns_are_masked_together(void **state)
{
    (void)state;
    redact_register_secret("abcd");
    redact_register_secret("cdefgh");
    redact_register_secret("Bear");       /* inside a pattern's name */
    redact_register_secret("=\"xb@");      /* from a pattern's '=' into its (empty) value */
    redact_register_secret("k1&k2-tail"); /* from a pattern's value past its end */
    static const char *const cases[][2] = {
        {"x abcdefgh y", "x " REDACTED " y"},
        {"Authorization: Bearer tok123", "Authorization: " REDACTED "er " REDACTED},
        {"u?sig=\"xb@ z", "u?sig" REDACTED " z"},
        {"u?sig=k1&k2-tail&sp=r", "u?sig=" REDACTED "&sp=r"},
    };
    assert_each_redacted(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_url_passwords_are_masked_whatever_the_scheme(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"BATCHCONNECTIONSTRING=https://user:SECRET@host.batch.azure.com/jobs",
         "BATCHCONNECTIONSTRING=https://user:" REDACTED "@host.batch.azure.com/jobs"},
        {"POST https://user:SECRET@host/jobs?api-version=2024-07-01",
         "POST https://user:" REDACTED "@host/jobs?api-version=2024-07-01"},
        {"amqps://svc:p%40ss@broker:5671/vhost", "amqps://svc:" REDACTED "@broker:5671/vhost"},
        {"redis://:hunter22@cache:6379/0", "redis://:" REDACTED "@cache:6379/0"},
        {"HTTPS://U:PW@H/x", "HTTPS://U:" REDACTED "@H/x"},
        /* an unencoded '@' in the password: the host is after the last one */
        {"postgres://u:p@ss@db/x", "postgres://u:" REDACTED "@db/x"},
        /* a base64 key pasted as it is, '/' and '+' and '=' included */
        {"https://acct:ab/cd+ef==@host/x", "https://acct:" REDACTED "@host/x"},
        {"{\"url\":\"https://u:pw@h/x\",\"n\":1}", "{\"url\":\"https://u:" REDACTED "@h/x\",\"n\":1}"},
        {"a https://u:pw@h b https://v:qw@i c",
         "a https://u:" REDACTED "@h b https://v:" REDACTED "@i c"},
        /* nothing secret: no password, a port, a path */
        {"https://host:443/path?x=1", "https://host:443/path?x=1"},
        {"https://user@host/path", "https://user@host/path"},
        {"see http://example.com/a@b", "see http://example.com/a@b"},
        {"https://h:443/x then mail me@example.com", "https://h:443/x then mail me@example.com"},
        {"://", "://"},
        {"x:/", "x:/"},
    };
    assert_each_redacted(cases, sizeof(cases) / sizeof(cases[0]));
}

/* A key file in a Secret is several lines; printed line by line, or from the
 * middle of it (a tail of stderr.txt), each line is still masked. */
static void test_a_secret_of_several_lines_is_masked_line_by_line(void **state)
{
    (void)state;
    redact_register_secret("-----BEGIN TEST KEY-----\r\nMIIEvQIBADANBgkqhkiG9w0B\n"
                           "AQEFAASCBKcwggSjAgEAAoIB\n-----END TEST KEY-----\n");
    char *out = redacted("AQEFAASCBKcwggSjAgEAAoIB");
    assert_string_equal(out, REDACTED);
    free(out);
    out = redacted("-----BEGIN TEST KEY-----\r\n| AQEFAASCBKcwggSjAgEAAoIB\n-----END TEST KEY-----\n");
    assert_string_equal(out, REDACTED "\r\n| " REDACTED "\n" REDACTED "\n");
    free(out);
}

static void test_docker_config_auth_is_masked(void **state)
{
    (void)state;
    char *out = redacted("{\"auths\":{\"r.example.com\":{\"auth\":\"dXNlcjpwYXNzd29yZA==\"}}}");
    assert_string_equal(out, "{\"auths\":{\"r.example.com\":{\"auth\":\"" REDACTED "\"}}}");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_hundreds_of_registered_secrets_are_all_masked, forget),
        cmocka_unit_test_teardown(test_the_longest_registered_secret_wins, forget),
        cmocka_unit_test_teardown(test_overlapping_secrets_and_patterns_are_masked_together, forget),
        cmocka_unit_test_teardown(test_url_passwords_are_masked_whatever_the_scheme, forget),
        cmocka_unit_test_teardown(test_a_secret_of_several_lines_is_masked_line_by_line, forget),
        cmocka_unit_test_teardown(test_docker_config_auth_is_masked, forget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
