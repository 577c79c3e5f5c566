/* The small text helpers of common/: the JSON writer's escaping and nesting,
 * base64, secret redaction, and Azure and image name rules. */
#include "test_support.h"

#include "azure_names.h"
#include "base64.h"
#include "buffer.h"
#include "json_writer.h"
#include "redact.h"

static void test_json_writer_escapes_and_nests(void **state)
{
    (void)state;
    buffer out;
    buffer_init(&out, 0);
    json_writer w;
    json_writer_init(&w, &out);
    json_object_begin(&w);
    json_member_string(&w, "q\"k", "a\"b\\c\n\t\x01\x7f");
    json_key(&w, "list");
    json_array_begin(&w);
    json_int(&w, -5);
    json_bool(&w, true);
    json_null(&w);
    json_string(&w, "caf\xc3\xa9 \xff bad");
    json_object_begin(&w);
    json_object_end(&w);
    json_array_end(&w);
    json_object_end(&w);
    assert_true(json_writer_finish(&w));
    assert_string_equal(out.data,
                        "{\"q\\\"k\":\"a\\\"b\\\\c\\n\\t\\u0001\\u007f\","
                        "\"list\":[-5,true,null,\"caf\xc3\xa9 \xef\xbf\xbd bad\",{}]}");
    json_document doc;
    parse_or_fail(&doc, out.data, out.len); /* invalid UTF-8 came out as U+FFFD */
    json_document_free(&doc);
    buffer_free(&out);
}

static void test_json_writer_refuses_misuse(void **state)
{
    (void)state;
    buffer out;
    buffer_init(&out, 0);
    json_writer w;
    json_writer_init(&w, &out);
    json_object_begin(&w);
    json_key(&w, "a");
    json_object_end(&w); /* a key without a value */
    assert_false(json_writer_finish(&w));
    buffer_free(&out);
    buffer_init(&out, 8); /* output over the buffer's limit */
    json_writer_init(&w, &out);
    json_string(&w, "longer than eight bytes");
    assert_false(json_writer_finish(&w));
    buffer_free(&out);
    /* Escapes that carry the output past the limit the plain text fits in:
     * every limit from 0 up either holds the whole string or fails. */
    const char *quoted = "\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"x";
    const char *expected = "\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"x\"";
    for (size_t limit = 1; limit < 64; limit++) {
        buffer_init(&out, limit);
        json_writer_init(&w, &out);
        json_string(&w, quoted);
        if (json_writer_finish(&w))
            assert_string_equal(out.data, expected);
        else
            assert_true(limit < strlen(expected) + 6);
        assert_true(out.len <= limit);
        buffer_free(&out);
    }
}

static void test_json_string_in_pieces(void **state)
{
    (void)state;
    buffer out;
    buffer_init(&out, 0);
    json_writer w;
    json_writer_init(&w, &out);
    json_array_begin(&w);
    json_string_begin(&w);
    json_string_part(&w, "a\"", 2);
    json_string_part(&w, "", 0);
    json_string_part(&w, "$$", 2);
    json_string_end(&w);
    json_int(&w, INT64_MIN);
    json_array_end(&w);
    assert_true(json_writer_finish(&w));
    assert_string_equal(out.data, "[\"a\\\"$$\",-9223372036854775808]");
    buffer_free(&out);
}

static void test_base64_round_trip_and_strictness(void **state)
{
    (void)state;
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
                                        "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        buffer out;
        buffer_init(&out, 0);
        base64_encode_into(&out, plain[i], strlen(plain[i]));
        assert_string_equal(buffer_cstr(&out), coded[i]);
        uint8_t back[16];
        size_t n;
        assert_true(base64_decode(coded[i], strlen(coded[i]), back, sizeof(back), &n));
        assert_int_equal(n, strlen(plain[i]));
        assert_memory_equal(back, plain[i], n);
        buffer_free(&out);
    }
    /* Every byte value, at every length modulo 3, round trips. */
    uint8_t all[256 + 2];
    for (size_t i = 0; i < sizeof(all); i++)
        all[i] = (uint8_t)(i * 7 + 3);
    for (size_t len = 253; len <= sizeof(all); len++) {
        buffer text;
        buffer_init(&text, 0);
        base64_encode_into(&text, all, len);
        assert_int_equal(text.len, (len + 2) / 3 * 4);
        uint8_t back[sizeof(all)];
        size_t back_len;
        assert_true(base64_decode(text.data, text.len, back, sizeof(back), &back_len));
        assert_int_equal(back_len, len);
        assert_memory_equal(back, all, len);
        buffer_free(&text);
    }
    uint8_t out[16];
    size_t n;
    assert_false(base64_decode("Zm9", 3, out, sizeof(out), &n));      /* not a multiple of 4 */
    assert_false(base64_decode("Zm=v", 4, out, sizeof(out), &n));     /* data after padding */
    assert_false(base64_decode("Zm9v Zg==", 9, out, sizeof(out), &n));
    assert_false(base64_decode("Zm9vYmFy", 8, out, 5, &n));          /* output too small */
}

/* Base64 as RFC 4648 defines it, a bit at a time: the reference the fast
 * encoders (eight characters per step, sixteen with SSSE3) are held to. */
static void reference_base64(const uint8_t *in, size_t len, buffer *out)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned bits = 0, value = 0;
    size_t start = out->len;
    for (size_t i = 0; i < len; i++) {
        value = value << 8 | in[i];
        for (bits += 8; bits >= 6; bits -= 6)
            buffer_append_char(out, alphabet[(value >> (bits - 6)) & 63]);
    }
    if (bits)
        buffer_append_char(out, alphabet[(value << (6 - bits)) & 63]);
    while ((out->len - start) % 4)
        buffer_append_char(out, '=');
}

static void test_base64_matches_the_definition_at_every_length(void **state)
{
    (void)state;
    uint8_t data[600];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof(data); i++) {
        x = x * 1103515245u + 12345u;
        data[i] = (uint8_t)(x >> 16);
    }
    for (size_t len = 0; len <= sizeof(data); len++) {
        buffer fast, slow;
        buffer_init(&fast, 0);
        buffer_init(&slow, 0);
        buffer_append_str(&fast, "prefix:"); /* appends after what is there */
        buffer_append_str(&slow, "prefix:");
        base64_encode_into(&fast, data, len);
        reference_base64(data, len, &slow);
        assert_int_equal(fast.len, slow.len);
        assert_memory_equal(fast.data, slow.data, slow.len);
        buffer_free(&fast);
        buffer_free(&slow);
    }
}

static void test_redaction(void **state)
{
    (void)state;
    redact_register_secret("hunter2-password");
    redact_register_secret("pa\"ss\\word\nline-two");
    static const char *const cases[][2] = {
        {"GET https://a.blob.core.windows.net/c?sv=2022-11-02&sp=r&sig=abc%2Bdef&se=x",
         "GET https://a.blob.core.windows.net/c?sv=2022-11-02&sp=r&sig=REDACTED&se=x"},
        {"Authorization: SharedKey myaccount:c2lnbmF0dXJl\r\n",
         "Authorization: SharedKey myaccount:REDACTED\r\n"},
        {"Authorization: Bearer eyJ0eXAi.abc.def", "Authorization: Bearer REDACTED"},
        {"DefaultEndpointsProtocol=https;AccountName=a;AccountKey=Zm9v==;EndpointSuffix=x",
         "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=REDACTED;EndpointSuffix=x"},
        {"login with hunter2-password failed", "login with REDACTED failed"},
        {"{\"access_token\":\"tok\",\"expires_in\":3600}",
         "{\"access_token\":\"REDACTED\",\"expires_in\":3600}"},
        {"client_secret=s3cr3t&scope=x", "client_secret=REDACTED&scope=x"},
        {"nothing to hide here", "nothing to hide here"},
        {"SIG=UPPER", "SIG=REDACTED"},
        {"Client_Assertion=eyJh.b.c", "Client_Assertion=REDACTED"},
        /* a JSON value runs to its closing quote, not to an escaped one */
        {"{\"password\":\"a\\\"b\\\\\",\"u\":1}", "{\"password\":\"REDACTED\",\"u\":1}"},
        /* a registered secret as written and as a JSON string carries it */
        {"x pa\"ss\\word\nline-two y", "x REDACTED y"},
        {"{\"v\":\"pa\\\"ss\\\\word\\nline-two\"}", "{\"v\":\"REDACTED\"}"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        buffer out;
        buffer_init(&out, 0);
        redact_into(&out, cases[i][0], strlen(cases[i][0]));
        assert_string_equal(buffer_cstr(&out), cases[i][1]);
        buffer_free(&out);
    }
    redact_forget_secrets();
}

static void test_azure_names(void **state)
{
    (void)state;
    assert_true(azure_batch_id_is_valid("pool_1-a"));
    assert_false(azure_batch_id_is_valid(""));
    assert_false(azure_batch_id_is_valid("has space"));
    assert_false(azure_batch_id_is_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")); /* 65 */
    assert_true(azure_container_name_is_valid("abc"));
    assert_true(azure_container_name_is_valid("my-data-1"));
    assert_false(azure_container_name_is_valid("ab"));
    assert_false(azure_container_name_is_valid("-abc"));
    assert_false(azure_container_name_is_valid("abc-"));
    assert_false(azure_container_name_is_valid("a--b"));
    assert_false(azure_container_name_is_valid("Abc"));
    assert_true(azure_blob_prefix_is_valid("default/job-1"));
    assert_false(azure_blob_prefix_is_valid("/abs"));
    assert_false(azure_blob_prefix_is_valid("trailing/"));
    assert_false(azure_blob_prefix_is_valid("a//b"));
    assert_false(azure_blob_prefix_is_valid("a/../b"));
    assert_false(azure_blob_prefix_is_valid("a/./b"));
    assert_false(azure_blob_prefix_is_valid("a b"));
    assert_true(azure_vm_size_is_valid("Standard_D2s_v3"));
    assert_false(azure_vm_size_is_valid("Standard-D2"));
    assert_true(azure_storage_account_is_valid("devstoreaccount1"));
    assert_false(azure_storage_account_is_valid("Dev"));
}

static void test_image_references(void **state)
{
    (void)state;
    static const char *const good[] = {
        "busybox", "busybox:1.36", "library/busybox", "docker.io/library/busybox:latest",
        "myregistry.azurecr.io/team/worker:2", "localhost:5000/a/b:1.0", "localhost/x",
        "registry.example.com:8443/a_b/c__d/e-f:v1.2-rc_3",
        "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "mcr.microsoft.com/azure-batch/x:1@sha256:"
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    };
    static const char *const bad[] = {
        "", "Busybox", "busybox:", ":tag", "a//b", "a/", "/a", "a b", "a:b:c",
        "busybox@sha256:short", "busybox@md5:0123", "a/B", "a..b", "-a", "a_", "a___b",
        "host:port/a", "busybox:-tag",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        if (!image_reference_is_valid(good[i]))
            fail_msg("refused %s", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (image_reference_is_valid(bad[i]))
            fail_msg("accepted %s", bad[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_writer_escapes_and_nests),
        cmocka_unit_test(test_json_writer_refuses_misuse),
        cmocka_unit_test(test_json_string_in_pieces),
        cmocka_unit_test(test_base64_round_trip_and_strictness),
        cmocka_unit_test(test_base64_matches_the_definition_at_every_length),
        cmocka_unit_test(test_redaction),
        cmocka_unit_test(test_azure_names),
        cmocka_unit_test(test_image_references),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
