/* Entra ID token exchanges (azure/entra_exchange.c): the request each
 * method sends, byte for byte, and what each kind of answer yields. */
#include "test_support.h"

#include <unistd.h>

#include "entra_exchange.h"
#include "redact.h"

static const entra_settings base = {
    .tenant_id = "72f988bf-86f1-41af-91ab-2d7cd011db47",
    .client_id = "00000000-aaaa-bbbb-cccc-123456789abc",
    .authority_host = "https://login.microsoftonline.com/",
    .imds_endpoint = "http://169.254.169.254",
};

static void test_client_secret_request(void **state)
{
    (void)state;
    entra_settings s = base;
    s.method = ENTRA_CLIENT_SECRET;
    s.client_secret = "made-up secret&with=form chars";
    http_exchange x;
    char error[128];
    assert_true(entra_request_build(&s, &ENTRA_BATCH, &x, error, sizeof(error)));
    assert_string_equal(x.method, "POST");
    /* the authority's trailing slash is not doubled */
    assert_string_equal(x.url, "https://login.microsoftonline.com/"
                               "72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token");
    assert_string_equal(http_exchange_header(&x, "Content-Type"),
                        "application/x-www-form-urlencoded");
    assert_string_equal(http_exchange_header(&x, "Accept"), "application/json");
    assert_string_equal(buffer_cstr(&x.body),
                        "grant_type=client_credentials"
                        "&client_id=00000000-aaaa-bbbb-cccc-123456789abc"
                        "&scope=https%3A%2F%2Fbatch.core.windows.net%2F%2F.default"
                        "&client_secret=made-up%20secret%26with%3Dform%20chars");
    http_exchange_free(&x);
}

static void test_workload_identity_request_reads_the_token_file_each_time(void **state)
{
    (void)state;
    char path[] = "/tmp/entra-assertion-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "eyJhbGciOi.first.sig\n", 21), 21);
    close(fd);
    entra_settings s = base;
    s.method = ENTRA_WORKLOAD_IDENTITY;
    s.federated_token_file = path;
    http_exchange x;
    char error[128];
    assert_true(entra_request_build(&s, &ENTRA_STORAGE, &x, error, sizeof(error)));
    assert_string_equal(buffer_cstr(&x.body),
                        "grant_type=client_credentials"
                        "&client_id=00000000-aaaa-bbbb-cccc-123456789abc"
                        "&scope=https%3A%2F%2Fstorage.azure.com%2F.default"
                        "&client_assertion_type="
                        "urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"
                        "&client_assertion=eyJhbGciOi.first.sig");
    http_exchange_free(&x);
    /* the kubelet rotates the file: the next request carries the new token */
    FILE *f = fopen(path, "w");
    fputs("eyJhbGciOi.second.sig", f);
    fclose(f);
    assert_true(entra_request_build(&s, &ENTRA_STORAGE, &x, error, sizeof(error)));
    assert_non_null(strstr(buffer_cstr(&x.body), "&client_assertion=eyJhbGciOi.second.sig"));
    http_exchange_free(&x);
    /* gone or empty: a reason naming the variable */
    f = fopen(path, "w");
    fclose(f);
    assert_false(entra_request_build(&s, &ENTRA_STORAGE, &x, error, sizeof(error)));
    assert_non_null(strstr(error, "AZURE_FEDERATED_TOKEN_FILE"));
    http_exchange_free(&x);
    unlink(path);
    assert_false(entra_request_build(&s, &ENTRA_STORAGE, &x, error, sizeof(error)));
    assert_non_null(strstr(error, "cannot read AZURE_FEDERATED_TOKEN_FILE"));
    http_exchange_free(&x);
    redact_forget_secrets();
}

static void test_managed_identity_request(void **state)
{
    (void)state;
    entra_settings s = base;
    s.method = ENTRA_MANAGED_IDENTITY;
    http_exchange x;
    char error[128];
    assert_true(entra_request_build(&s, &ENTRA_BATCH, &x, error, sizeof(error)));
    assert_string_equal(x.method, "GET");
    assert_string_equal(x.url, "http://169.254.169.254/metadata/identity/oauth2/token"
                               "?api-version=2018-02-01"
                               "&resource=https%3A%2F%2Fbatch.core.windows.net%2F"
                               "&client_id=00000000-aaaa-bbbb-cccc-123456789abc");
    assert_string_equal(http_exchange_header(&x, "Metadata"), "true");
    assert_int_equal(x.body.len, 0);
    http_exchange_free(&x);
    s.client_id = NULL; /* the system-assigned identity */
    assert_true(entra_request_build(&s, &ENTRA_STORAGE, &x, error, sizeof(error)));
    assert_string_equal(x.url, "http://169.254.169.254/metadata/identity/oauth2/token"
                               "?api-version=2018-02-01"
                               "&resource=https%3A%2F%2Fstorage.azure.com%2F");
    http_exchange_free(&x);
}

static void test_answers(void **state)
{
    (void)state;
    char error[256];
    int64_t lifetime = 0;
    /* Entra gives expires_in as a number, IMDS as a string */
    const char *entra = "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"ext_expires_in\":3599,"
                        "\"access_token\":\"eyJ0eXAi.made-up.token\"}";
    char *token = entra_answer_read(200, entra, strlen(entra), &lifetime, error, sizeof(error));
    assert_string_equal(token, "eyJ0eXAi.made-up.token");
    assert_int_equal(lifetime, 3599);
    free(token);
    const char *imds = "{\"access_token\":\"eyJ0eXAi.imds.token\",\"expires_in\":\"86399\","
                       "\"expires_on\":\"1795455900\",\"resource\":\"https://storage.azure.com/\","
                       "\"token_type\":\"Bearer\"}";
    token = entra_answer_read(200, imds, strlen(imds), &lifetime, error, sizeof(error));
    assert_string_equal(token, "eyJ0eXAi.imds.token");
    assert_int_equal(lifetime, 86399);
    free(token);
    /* the token is masked in anything printed later */
    buffer out;
    buffer_init(&out, 0);
    redact_into(&out, "got eyJ0eXAi.imds.token", 23);
    assert_string_equal(buffer_cstr(&out), "got REDACTED");
    buffer_free(&out);

    /* a refusal says what the identity platform said, first line only */
    const char *refused = "{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000215: "
                          "Invalid client secret provided.\\r\\nTrace ID: 1234\"}";
    assert_null(entra_answer_read(401, refused, strlen(refused), &lifetime, error,
                                  sizeof(error)));
    assert_string_equal(error, "the token endpoint refused (HTTP 401 invalid_client): "
                               "AADSTS7000215: Invalid client secret provided.");

    static const struct {
        long status;
        const char *body;
        const char *reason;
    } broken[] = {
        {200, "<html>proxy</html>", "HTTP 200, not JSON"},
        {200, "{\"access_token\":\"t\"}", "no access_token or expires_in"},
        {200, "{\"access_token\":\"\",\"expires_in\":10}", "no access_token or expires_in"},
        {200, "{\"access_token\":\"t\",\"expires_in\":0}", "no access_token or expires_in"},
        {200, "{\"access_token\":\"t\",\"expires_in\":\"soon\"}", "no access_token or expires_in"},
        {200, "{\"access_token\":7,\"expires_in\":10}", "no access_token or expires_in"},
        {500, "{}", "refused (HTTP 500 )"},
    };
    for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
        error[0] = '\0';
        assert_null(entra_answer_read(broken[i].status, broken[i].body, strlen(broken[i].body),
                                      &lifetime, error, sizeof(error)));
        if (!strstr(error, broken[i].reason))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, error, broken[i].reason);
    }
    redact_forget_secrets();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_secret_request),
        cmocka_unit_test(test_workload_identity_request_reads_the_token_file_each_time),
        cmocka_unit_test(test_managed_identity_request),
        cmocka_unit_test(test_answers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
