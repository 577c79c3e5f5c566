/* The HTTP/1.x head parser and framing rules: complete and partial heads,
 * what is refused as malformed (the request-smuggling cases included), and
 * how Content-Length, Connection and Expect are read. */
#include "test_support.h"

#include "buffer.h"
#include "http_parser.h"

static int parse(const char *text, http_request_head *head)
{
    return http_parse_request_head(text, strlen(text), head);
}

static void test_parses_a_request_head(void **state)
{
    (void)state;
    const char *text = "POST /mutate?timeout=10s HTTP/1.1\r\nHost: webhook\r\n"
                       "Content-Type:  application/json \r\nContent-Length: 12\r\n\r\n{\"a\":1}";
    http_request_head head;
    int n = parse(text, &head);
    assert_int_equal(n, (int)(strstr(text, "\r\n\r\n") - text + 4));
    assert_int_equal(head.method_len, 4);
    assert_memory_equal(head.method, "POST", 4);
    assert_int_equal(head.target_len, strlen("/mutate?timeout=10s"));
    assert_int_equal(head.minor_version, 1);
    assert_int_equal(head.header_count, 3);
    const http_header *ct = http_find_header(&head, "content-type", NULL);
    assert_non_null(ct);
    assert_int_equal(ct->value_len, strlen("application/json"));  /* blanks trimmed */
    http_framing framing;
    const char *message;
    assert_int_equal(http_request_framing(&head, 100, &framing, &message), 0);
    assert_int_equal(framing.body_len, 12);
    assert_true(framing.keep_alive);
}

static void test_incomplete_heads_ask_for_more(void **state)
{
    (void)state;
    const char *full = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    http_request_head head;
    for (size_t n = 0; n < strlen(full); n++)
        assert_int_equal(http_parse_request_head(full, n, &head), HTTP_PARSE_INCOMPLETE);
    assert_int_equal(parse(full, &head), (int)strlen(full));
}

static void test_refuses_malformed_heads(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "GET /healthz HTTP/1.1\nHost: x\n\n",         /* bare LF */
        "GET /healthz HTTP/1.1\rHost: x\r\n\r\n",      /* bare CR */
        "GET  /healthz HTTP/1.1\r\n\r\n",              /* empty target */
        "GET /healthz HTTP/2.0\r\n\r\n",
        "GET /healthz HTTP/1.1 extra\r\n\r\n",
        "G\"T /healthz HTTP/1.1\r\n\r\n",             /* not a token */
        "GET /hea lthz HTTP/1.1\r\n\r\n",
        "GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n",   /* space before colon */
        "GET /healthz HTTP/1.1\r\n Folded: x\r\n\r\n", /* obsolete folding */
        "GET /healthz HTTP/1.1\r\nNoColon\r\n\r\n",
        "GET /healthz HTTP/1.1\r\n: empty-name\r\n\r\n",
        "GET /healthz HTTP/1.1\r\nX: a\x01b\r\n\r\n",  /* control byte in a value */
        "GET /\x7f HTTP/1.1\r\n\r\n",
    };
    http_request_head head;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (parse(bad[i], &head) != HTTP_PARSE_MALFORMED)
            fail_msg("accepted malformed head #%zu", i);
}

static void test_header_count_is_limited(void **state)
{
    (void)state;
    buffer b;
    buffer_init(&b, 0);
    buffer_append_str(&b, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < HTTP_MAX_HEADERS + 1; i++)
        buffer_appendf(&b, "X-%d: y\r\n", i);
    buffer_append_str(&b, "\r\n");
    http_request_head head;
    assert_int_equal(http_parse_request_head(b.data, b.len, &head), HTTP_PARSE_TOO_MANY_HEADERS);
    buffer_free(&b);
}

static void test_leading_empty_lines_are_skipped(void **state)
{
    (void)state;
    http_request_head head;
    assert_true(parse("\r\n\r\nGET / HTTP/1.1\r\n\r\n", &head) > 0);
    assert_int_equal(head.method_len, 3);
}

static int framing_of(const char *text, size_t max_body, http_framing *framing,
                      const char **message)
{
    http_request_head head;
    assert_true(parse(text, &head) > 0);
    return http_request_framing(&head, max_body, framing, message);
}

static void test_framing_rules(void **state)
{
    (void)state;
    http_framing f;
    const char *m;
    assert_int_equal(framing_of("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 10, &f,
                                &m), 501);
    assert_int_equal(framing_of("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n"
                                "\r\n", 10, &f, &m), 400);
    assert_int_equal(framing_of("POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n", 10, &f, &m),
                     400);
    assert_int_equal(framing_of("POST / HTTP/1.1\r\nContent-Length: 1234567890123456\r\n\r\n",
                                10, &f, &m), 400);
    assert_int_equal(framing_of("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", 10, &f, &m),
                     413);
    assert_int_equal(framing_of("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n", 10, &f, &m), 0);
    assert_int_equal(framing_of("GET / HTTP/1.1\r\nExpect: 200-ok\r\n\r\n", 10, &f, &m), 417);
    assert_int_equal(framing_of("GET / HTTP/1.1\r\nExpect: 100-Continue\r\n\r\n", 10, &f, &m), 0);
    assert_true(f.expects_continue);
    assert_int_equal(framing_of("GET / HTTP/1.1\r\nConnection: keep-alive, close\r\n\r\n", 10,
                                &f, &m), 0);
    assert_false(f.keep_alive);
    assert_int_equal(framing_of("GET / HTTP/1.0\r\n\r\n", 10, &f, &m), 0);
    assert_false(f.keep_alive);
    assert_int_equal(framing_of("HEAD / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 10, &f, &m),
                     0);
    assert_true(f.keep_alive);
    assert_true(f.head_method);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parses_a_request_head),
        cmocka_unit_test(test_incomplete_heads_ask_for_more),
        cmocka_unit_test(test_refuses_malformed_heads),
        cmocka_unit_test(test_header_count_is_limited),
        cmocka_unit_test(test_leading_empty_lines_are_skipped),
        cmocka_unit_test(test_framing_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
