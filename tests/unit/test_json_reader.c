/* The strict JSON reader: what it accepts, what it refuses (everything jsmn
 * alone would let through included), decoding and lookups. */
#include "test_support.h"

#include "buffer.h"

static const char *const valid[] = {
    "{}", "[]", "0", "-0", "1.5e-3", "true", "false", "null", "\"\"",
    " {\"a\" : [1, 2 , {\"b\":null}] } ",
    "{\"a\":{\"b\":{\"c\":[[],{}]}}}",
    "\"\\u00e9\\ud83d\\ude00\\n\\\"\\\\\\/\\b\\f\\r\\t\"",
    "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"",
    "[-1,0.5,1e10,1E+2,2e-2]",
};

static const char *const invalid[] = {
    "",                  /* nothing */
    "   ",               /* only whitespace */
    "{\"a\" 1}",         /* missing colon */
    "{\"a\":1 \"b\":2}", /* missing comma between members */
    "[1 2]",             /* missing comma between elements */
    "{\"a\":1,}",        /* trailing comma */
    "[1,]",              /* trailing comma */
    "{\"a\":}",          /* member without value */
    "{\"a\"}",           /* name without value */
    "{\"a\":1}{}",       /* two top-level values */
    "1 2",               /* two top-level values */
    "{,}",               /* stray comma */
    "[,1]",              /* leading comma */
    "{\"a\":1,,\"b\":2}",
    "{\"a\":1:2}",       /* two colons */
    "[\"a\":1]",         /* colon in an array */
    "{1:2}",             /* name not a string */
    "[01]",              /* leading zero */
    "[1.]",              /* fraction without digits */
    "[.5]",
    "[+1]",
    "[1e]",
    "[tru]",
    "[trux]",
    "[nul]",
    "[-]",
    "\"a\nb\"",          /* raw control byte in a string */
    "\"\\x\"",           /* unknown escape */
    "\"\\u12\"",         /* short \u escape */
    "\"\\ud83d\"",       /* lone high surrogate */
    "\"\\ude00\"",       /* lone low surrogate */
    "\"\xc3\"",          /* truncated UTF-8 */
    "\"\xed\xa0\x80\"",  /* UTF-8 encoded surrogate */
    "\"\xc0\xaf\"",      /* overlong UTF-8 */
    "[1]]",
    "{\"a\":[1}",
    "{\"a\":1",          /* unterminated */
};

static void test_accepts_valid_json(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        json_document doc;
        char error[128];
        if (!json_document_parse(&doc, valid[i], strlen(valid[i]), 1000, error, sizeof(error)))
            fail_msg("refused valid JSON %s: %s", valid[i], error);
        json_document_free(&doc);
    }
}

static void test_refuses_invalid_json_with_a_position(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        json_document doc;
        char error[128] = "";
        if (json_document_parse(&doc, invalid[i], strlen(invalid[i]), 1000, error,
                                sizeof(error))) {
            json_document_free(&doc);
            fail_msg("accepted invalid JSON #%zu: %s", i, invalid[i]);
        }
        assert_non_null(strstr(error, "invalid JSON at byte "));
    }
}

static void test_token_limit_is_enforced(void **state)
{
    (void)state;
    json_document doc;
    char error[128];
    const char *text = "[1,2,3,4,5,6,7,8,9,10]";
    assert_false(json_document_parse(&doc, text, strlen(text), 5, error, sizeof(error)));
    assert_non_null(strstr(error, "too many values"));
    assert_true(json_document_parse(&doc, text, strlen(text), 11, error, sizeof(error)));
    assert_int_equal(json_length(&doc, 0), 10);
    json_document_free(&doc);
}

/* n opening brackets then n closing ones, NUL-terminated. */
static char *nested_arrays(size_t n)
{
    char *text = malloc(n * 2 + 1);
    assert_non_null(text);
    memset(text, '[', n);
    memset(text + n, ']', n);
    text[n * 2] = '\0';
    return text;
}

static void test_nesting_at_the_limit_is_accepted(void **state)
{
    (void)state;
    char *text = nested_arrays(JSON_MAX_DEPTH);
    json_document doc;
    char error[128];
    if (!json_document_parse(&doc, text, strlen(text), 1000, error, sizeof(error)))
        fail_msg("refused nesting at the limit: %s", error);
    assert_int_equal(doc.count, JSON_MAX_DEPTH);
    assert_int_equal(json_next(&doc, 0), JSON_MAX_DEPTH);
    assert_int_equal(json_length(&doc, JSON_MAX_DEPTH - 2), 1);
    json_document_free(&doc);
    free(text);

    /* Objects count the same, member names do not add a level. */
    buffer b;
    buffer_init(&b, 0);
    for (int i = 0; i < JSON_MAX_DEPTH - 1; i++)
        buffer_append_str(&b, "{\"a\":");
    buffer_append_str(&b, "[1]");
    for (int i = 0; i < JSON_MAX_DEPTH - 1; i++)
        buffer_append_char(&b, '}');
    if (!json_document_parse(&doc, b.data, b.len, 1000, error, sizeof(error)))
        fail_msg("refused nesting at the limit: %s", error);
    json_document_free(&doc);
    buffer_free(&b);
}

static void test_nesting_past_the_limit_is_refused_at_its_byte(void **state)
{
    (void)state;
    json_document doc;
    char error[128];
    char expected[128];
    snprintf(expected, sizeof(expected), "invalid JSON at byte %d: nested deeper than %d levels",
             JSON_MAX_DEPTH, JSON_MAX_DEPTH);
    char *text = nested_arrays(JSON_MAX_DEPTH + 1);
    assert_false(json_document_parse(&doc, text, strlen(text), 1000, error, sizeof(error)));
    assert_string_equal(error, expected);
    free(text);

    /* Deep input is refused where it passes the limit, whatever follows. */
    text = nested_arrays(100000);
    assert_false(json_document_parse(&doc, text, strlen(text), 1 << 20, error, sizeof(error)));
    assert_string_equal(error, expected);
    free(text);

    /* Inside an object, a level deeper than the limit at its own offset. */
    const char *prefix = "{\"a\": ";
    buffer b;
    buffer_init(&b, 0);
    buffer_append_str(&b, prefix);
    for (int i = 0; i < JSON_MAX_DEPTH; i++)
        buffer_append_char(&b, '[');
    assert_false(json_document_parse(&doc, b.data, b.len, 1000, error, sizeof(error)));
    snprintf(expected, sizeof(expected), "invalid JSON at byte %zu: nested deeper than %d levels",
             strlen(prefix) + JSON_MAX_DEPTH - 1, JSON_MAX_DEPTH);
    assert_string_equal(error, expected);
    buffer_free(&b);
}

static void test_brackets_inside_strings_do_not_nest(void **state)
{
    (void)state;
    buffer b;
    buffer_init(&b, 0);
    buffer_append_str(&b, "[\"");
    for (int i = 0; i < JSON_MAX_DEPTH * 4; i++)
        buffer_append_str(&b, "[{");
    buffer_append_str(&b, "\\\"[{\",{\"[[[\\\\\":\"{{{\"}]");
    json_document doc;
    char error[128];
    if (!json_document_parse(&doc, b.data, b.len, 1000, error, sizeof(error)))
        fail_msg("brackets in strings were counted: %s", error);
    assert_int_equal(doc.count, 5);
    assert_int_equal(json_string_length(&doc, 1), JSON_MAX_DEPTH * 8 + 3);
    assert_true(json_string_equals(&doc, 3, "[[[\\"));
    json_document_free(&doc);
    buffer_free(&b);
}

/* Documents far denser than the first guesses of an allocator (a token
 * every two bytes) come back whole, and escapes are found in strings
 * anywhere in them, however many. */
static void test_dense_documents_and_many_escaped_strings(void **state)
{
    (void)state;
    const int elements = 50000;
    buffer b;
    buffer_init(&b, 0);
    buffer_append_char(&b, '[');
    for (int i = 0; i < elements; i++)
        buffer_append_str(&b, i ? ",0" : "0");
    buffer_append_char(&b, ']');
    json_document doc;
    char error[128];
    if (!json_document_parse(&doc, b.data, b.len, elements + 1, error, sizeof(error)))
        fail_msg("refused a dense array: %s", error);
    assert_int_equal(doc.count, elements + 1);
    assert_int_equal(json_length(&doc, 0), elements);
    assert_int_equal(json_type_of(&doc, elements), JSON_NUMBER);
    json_document_free(&doc);

    /* Plain and escaped strings alternate; an escape is recognised in each. */
    buffer_reset(&b);
    buffer_append_char(&b, '{');
    for (int i = 0; i < elements; i++)
        buffer_appendf(&b, "%s\"k%d\":\"%s\"", i ? "," : "", i, i % 2 ? "a\\nb" : "anb");
    buffer_append_char(&b, '}');
    if (!json_document_parse(&doc, b.data, b.len, 1 << 20, error, sizeof(error)))
        fail_msg("refused many escaped strings: %s", error);
    assert_int_equal(doc.count, elements * 2 + 1);
    for (int i = 0; i < elements; i++) {
        int value = 1 + i * 2 + 1;
        assert_true(json_string_equals(&doc, value, i % 2 ? "a\nb" : "anb"));
        assert_int_equal(json_string_length(&doc, value), 3);
    }
    json_document_free(&doc);
    buffer_free(&b);
}

/* The limit is exact, and refused input says where the first value too
 * many starts. */
static void test_token_limit_is_exact(void **state)
{
    (void)state;
    json_document doc;
    char error[128];
    const char *text = "{\"a\":[1,true,\"x\"]}"; /* 6 tokens */
    assert_true(json_document_parse(&doc, text, strlen(text), 6, error, sizeof(error)));
    assert_int_equal(doc.count, 6);
    json_document_free(&doc);
    assert_false(json_document_parse(&doc, text, strlen(text), 5, error, sizeof(error)));
    assert_string_equal(error, "invalid JSON at byte 13: too many values");
}

static void test_lookups_and_decoding(void **state)
{
    (void)state;
    const char *text = "{\"a\":{\"skip\":[1,{\"x\":2}],\"b\\/c\":\"v\\u00e9\\ud83d\\ude00\"},"
                       "\"n\":-9223372036854775808,\"big\":9223372036854775808,\"f\":1.5,"
                       "\"t\":true,\"nul\":\"a\\u0000b\"}";
    json_document doc;
    parse_or_fail(&doc, text, strlen(text));
    int bc = json_lookup(&doc, 0, "a", "b/c", NULL);
    assert_int_equal(json_type_of(&doc, bc), JSON_STRING);
    assert_true(json_string_equals(&doc, bc, "v\xc3\xa9\xf0\x9f\x98\x80"));
    assert_false(json_string_equals(&doc, bc, "v\xc3\xa9"));
    assert_true(json_string_has_prefix(&doc, bc, "v\xc3\xa9"));
    assert_int_equal(json_string_length(&doc, bc), 7);
    assert_int_equal(json_lookup(&doc, 0, "a", "missing", NULL), -1);
    assert_int_equal(json_lookup(&doc, 0, "a", "skip", "x", NULL), -1); /* arrays have no members */

    int64_t v;
    assert_true(json_read_int64(&doc, json_object_get(&doc, 0, "n"), INT64_MIN, 0, &v));
    assert_true(v == INT64_MIN);
    assert_false(json_read_int64(&doc, json_object_get(&doc, 0, "big"), 0, INT64_MAX, &v));
    assert_false(json_read_int64(&doc, json_object_get(&doc, 0, "f"), 0, 10, &v));
    assert_false(json_read_int64(&doc, json_object_get(&doc, 0, "t"), 0, 10, &v));
    assert_true(json_is_true(&doc, json_object_get(&doc, 0, "t")));
    /* A string with an embedded NUL cannot become a C string. */
    assert_null(json_string_dup(&doc, json_object_get(&doc, 0, "nul")));

    const char *raw;
    size_t raw_len;
    json_raw(&doc, json_lookup(&doc, 0, "a", "skip", NULL), &raw, &raw_len);
    assert_int_equal(raw_len, strlen("[1,{\"x\":2}]"));
    assert_memory_equal(raw, "[1,{\"x\":2}]", raw_len);

    int key, count = 0;
    json_iterator it = json_iterate(&doc, 0);
    while (json_iterator_next(&it, &key))
        count++;
    assert_int_equal(count, 6);
    json_document_free(&doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts_valid_json),
        cmocka_unit_test(test_refuses_invalid_json_with_a_position),
        cmocka_unit_test(test_token_limit_is_enforced),
        cmocka_unit_test(test_nesting_at_the_limit_is_accepted),
        cmocka_unit_test(test_nesting_past_the_limit_is_refused_at_its_byte),
        cmocka_unit_test(test_brackets_inside_strings_do_not_nest),
        cmocka_unit_test(test_dense_documents_and_many_escaped_strings),
        cmocka_unit_test(test_token_limit_is_exact),
        cmocka_unit_test(test_lookups_and_decoding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
