/* Service SAS: query strings signed by azure/sas.c for the same inputs as
 * the official @azure/storage-blob SDK's generateBlobSASQueryParameters
 * (tests/fixtures/sas/storage_blob_sdk_sas.json, made by
 * tests/node/sas_vectors.js) must carry the same fields and signature. */
#include "test_support.h"

#include "base64.h"
#include "buffer.h"
#include "sas.h"
#include "user_delegation_key.h"
#include "url.h"

#define MAX_FIELDS 16

typedef struct query_fields {
    char names[MAX_FIELDS][16];
    char values[MAX_FIELDS][256];
    size_t count;
} query_fields;

static void parse_query(const char *query, query_fields *q)
{
    memset(q, 0, sizeof(*q));
    while (*query) {
        size_t len = strcspn(query, "&");
        const char *eq = memchr(query, '=', len);
        assert_non_null(eq);
        assert_true(q->count < MAX_FIELDS);
        snprintf(q->names[q->count], sizeof(q->names[0]), "%.*s", (int)(eq - query), query);
        buffer value;
        buffer_init(&value, 0);
        assert_true(url_decode_into(&value, eq + 1, len - (size_t)(eq - query) - 1));
        snprintf(q->values[q->count], sizeof(q->values[0]), "%s", buffer_cstr(&value));
        buffer_free(&value);
        q->count++;
        query += len + (query[len] == '&');
    }
}

static const char *field(const query_fields *q, const char *name)
{
    for (size_t i = 0; i < q->count; i++)
        if (strcmp(q->names[i], name) == 0)
            return q->values[i];
    return NULL;
}

static void test_matches_the_official_sdk(void **state)
{
    (void)state;
    size_t len;
    char *text = read_fixture("tests/fixtures/sas/storage_blob_sdk_sas.json", &len);
    json_document doc;
    parse_or_fail(&doc, text, len);
    char *account = json_string_dup(&doc, json_object_get(&doc, 0, "account"));
    char *key_text = json_string_dup(&doc, json_object_get(&doc, 0, "key"));
    uint8_t key[64];
    size_t key_len;
    assert_true(base64_decode(key_text, strlen(key_text), key, sizeof(key), &key_len));
    /* The made-up delegation key, as Get User Delegation Key returns it. */
    int d = json_object_get(&doc, 0, "delegationKey");
    user_delegation_key delegation = {0};
    static const char *const names[] = {"signedObjectId", "signedTenantId", "signedStartsOn",
                                        "signedExpiresOn", "signedService", "signedVersion"};
    char *fields[] = {delegation.object_id, delegation.tenant_id, delegation.start,
                      delegation.expiry, delegation.service, delegation.version};
    size_t sizes[] = {sizeof(delegation.object_id), sizeof(delegation.tenant_id),
                      sizeof(delegation.start), sizeof(delegation.expiry),
                      sizeof(delegation.service), sizeof(delegation.version)};
    for (size_t i = 0; i < 6; i++) {
        char *value = json_string_dup(&doc, json_object_get(&doc, d, names[i]));
        assert_non_null(value);
        snprintf(fields[i], sizes[i], "%s", value);
        free(value);
    }
    char *delegation_value = json_string_dup(&doc, json_object_get(&doc, d, "value"));
    assert_true(base64_decode(delegation_value, strlen(delegation_value), delegation.value,
                              sizeof(delegation.value), &delegation.value_len));
    free(delegation_value);
    json_iterator it = json_iterate(&doc, json_object_get(&doc, 0, "vectors"));
    int v;
    int checked = 0;
    while (json_iterator_next(&it, &v)) {
        char *container = json_string_dup(&doc, json_object_get(&doc, v, "container"));
        char *blob = json_string_dup(&doc, json_object_get(&doc, v, "blob")); /* NULL for null */
        char *permissions = json_string_dup(&doc, json_object_get(&doc, v, "permissions"));
        char *expected = json_string_dup(&doc, json_object_get(&doc, v, "query"));
        int64_t start, expiry;
        assert_true(json_read_int64(&doc, json_object_get(&doc, v, "start"), 0, INT64_MAX, &start));
        assert_true(json_read_int64(&doc, json_object_get(&doc, v, "expiry"), 0, INT64_MAX,
                                    &expiry));
        sas_grant grant = {.account = account, .key = key, .key_len = key_len,
                           .container = container, .blob = blob, .permissions = permissions,
                           .start = (time_t)start, .expiry = (time_t)expiry,
                           .allow_http = json_is_true(&doc, json_object_get(&doc, v, "allowHttp")),
                           .delegation = json_is_true(&doc, json_object_get(&doc, v, "delegation"))
                                             ? &delegation
                                             : NULL};
        buffer ours;
        buffer_init(&ours, 0);
        assert_true(sas_query_string(&grant, &ours));
        query_fields a, b;
        parse_query(buffer_cstr(&ours), &a);
        parse_query(expected, &b);
        if (a.count != b.count)
            fail_msg("%s: %zu fields, the SDK has %zu", expected, a.count, b.count);
        for (size_t i = 0; i < b.count; i++) {
            const char *mine = field(&a, b.names[i]);
            if (!mine || strcmp(mine, b.values[i]) != 0)
                fail_msg("%s: %s is \"%s\", the SDK says \"%s\"", expected, b.names[i],
                         mine ? mine : "(missing)", b.values[i]);
        }
        checked++;
        buffer_free(&ours);
        free(container);
        free(blob);
        free(permissions);
        free(expected);
    }
    assert_int_equal(checked, 7);
    free(account);
    free(key_text);
    json_document_free(&doc);
    free(text);
}

static void test_reads_a_user_delegation_key_answer(void **state)
{
    (void)state;
    const char *xml = "<?xml version=\"1.0\" encoding=\"utf-8\"?><UserDelegationKey>"
                      "<SignedOid>oid-1</SignedOid><SignedTid>tid-2</SignedTid>"
                      "<SignedStart>2026-11-23T17:00:00Z</SignedStart>"
                      "<SignedExpiry>2026-11-25T17:00:00Z</SignedExpiry>"
                      "<SignedService>b</SignedService><SignedVersion>2022-11-02</SignedVersion>"
                      "<Value>a2V5LWJ5dGVz</Value></UserDelegationKey>";
    user_delegation_key key;
    assert_true(user_delegation_key_parse(xml, strlen(xml), &key));
    assert_string_equal(key.object_id, "oid-1");
    assert_string_equal(key.expiry, "2026-11-25T17:00:00Z");
    assert_int_equal(key.value_len, 9);
    assert_memory_equal(key.value, "key-bytes", 9);
    /* Missing fields, markup inside a field, a value that is not base64. */
    static const char *const bad[] = {
        "<UserDelegationKey><SignedOid>a</SignedOid></UserDelegationKey>",
        "<SignedOid>a</SignedOid><SignedTid>b</SignedTid><SignedStart>c</SignedStart>"
        "<SignedExpiry>d</SignedExpiry><SignedService><b/></SignedService>"
        "<SignedVersion>v</SignedVersion><Value>a2V5</Value>",
        "<SignedOid>a</SignedOid><SignedTid>b</SignedTid><SignedStart>c</SignedStart>"
        "<SignedExpiry>d</SignedExpiry><SignedService>b</SignedService>"
        "<SignedVersion>v</SignedVersion><Value>not base64!</Value>",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(user_delegation_key_parse(bad[i], strlen(bad[i]), &key));
}

static void test_refuses_permissions_out_of_order(void **state)
{
    (void)state;
    uint8_t key[16] = {0};
    sas_grant grant = {.account = "a", .key = key, .key_len = sizeof(key), .container = "c",
                       .permissions = "lr", .expiry = 1};
    buffer out;
    buffer_init(&out, 0);
    assert_false(sas_query_string(&grant, &out));
    grant.permissions = "rx?";
    assert_false(sas_query_string(&grant, &out));
    grant.permissions = "";
    assert_false(sas_query_string(&grant, &out));
    buffer_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_the_official_sdk),
        cmocka_unit_test(test_reads_a_user_delegation_key_answer),
        cmocka_unit_test(test_refuses_permissions_out_of_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
