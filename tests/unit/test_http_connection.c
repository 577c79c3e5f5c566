/* One connection's HTTP bytes (http_connection.c) without sockets: requests
 * whose bodies grow the buffer far past its first size, delivered in one
 * piece and byte by byte; pipelining; 100-continue; the shared budget that
 * refuses what it cannot hold with 503; time-outs. The handler echoes what it
 * was given, so each test sees exactly the request the server would route. */
#include "test_support.h"

#include "buffer.h"
#include "http_connection.h"
#include "log.h"

static const http_limits limits = {.max_header_bytes = 16384, .max_body_bytes = 4 << 20};

/* Answers every request with "<method> <target> <body length> <body sum>". */
static void echo(void *context, const http_request *req, http_response *res)
{
    int *calls = context;
    (*calls)++;
    unsigned long sum = 0;
    for (size_t i = 0; i < req->body_len; i++)
        sum += (unsigned char)req->body[i];
    res->status = 200;
    buffer_appendf(&res->body, "%.*s %.*s %zu %lu", (int)req->head->method_len,
                   req->head->method, (int)req->head->target_len, req->head->target,
                   req->body_len, sum);
}

/* A POST of body_len bytes of 'x' (and its sum). */
static char *post(size_t body_len, const char *extra_headers, size_t *len, unsigned long *sum)
{
    buffer b;
    buffer_init(&b, 0);
    buffer_appendf(&b, "POST /mutate?timeout=10s HTTP/1.1\r\nContent-Type: application/json\r\n"
                       "%sContent-Length: %zu\r\n\r\n",
                   extra_headers, body_len);
    for (size_t i = 0; i < body_len; i++)
        buffer_append_char(&b, 'x');
    assert_true(buffer_ok(&b));
    *len = b.len;
    *sum = 'x' * (unsigned long)body_len;
    return b.data;
}

typedef struct exchange {
    buffer_budget budget;
    http_connection c;
    buffer sent;
    int calls;
} exchange;

static void exchange_open(exchange *x, size_t budget)
{
    memset(x, 0, sizeof(*x));
    x->budget.limit = budget;
    http_connection_init(&x->c, &limits, &x->budget, echo, &x->calls, "test");
    buffer_init(&x->sent, 0);
}

/* Feeds data in pieces of `piece` bytes as the server would (never past the
 * read room), sending out whatever the connection answers. */
static void exchange_feed(exchange *x, const char *data, size_t len, size_t piece)
{
    size_t at = 0;
    for (;;) {
        http_connection_process(&x->c);
        size_t pending;
        const char *out = http_connection_output(&x->c, &pending);
        if (pending) {
            buffer_append(&x->sent, out, pending);
            http_connection_sent(&x->c, pending, 0);
            continue;
        }
        size_t room = http_connection_read_room(&x->c);
        if (at == len || room == 0)
            return;
        size_t n = len - at < piece ? len - at : piece;
        http_connection_receive(&x->c, data + at, n < room ? n : room, 0);
        at += n < room ? n : room;
    }
}

static void exchange_close(exchange *x)
{
    http_connection_free(&x->c);
    buffer_free(&x->sent);
    assert_int_equal(atomic_load(&x->budget.used), 0); /* every byte given back */
}

static void assert_answer(const exchange *x, const char *expected_body)
{
    assert_non_null(strstr(buffer_cstr(&x->sent), "HTTP/1.1 200 OK\r\n"));
    const char *body = strstr(buffer_cstr(&x->sent), "\r\n\r\n");
    assert_non_null(body);
    assert_string_equal(body + 4, expected_body);
}

static void check_body_of(size_t body_len, size_t piece)
{
    size_t len;
    unsigned long sum;
    char *request = post(body_len, "", &len, &sum);
    exchange x;
    exchange_open(&x, 16 << 20);
    exchange_feed(&x, request, len, piece);
    char expected[128];
    snprintf(expected, sizeof(expected), "POST /mutate?timeout=10s %zu %lu", body_len, sum);
    assert_int_equal(x.calls, 1);
    assert_answer(&x, expected);
    assert_int_equal(http_connection_phase(&x.c), HTTP_PHASE_IDLE);
    assert_null(x.c.in.data); /* an idle connection holds no buffer */
    exchange_close(&x);
    free(request);
}

/* 40 KB is past the first read (16 KB) and past the first buffer: the head
 * seen by the handler must be the one in the final buffer. */
static void test_bodies_past_the_first_buffer_arrive_whole(void **state)
{
    (void)state;
    check_body_of(40 * 1024, 16384);
    check_body_of(40 * 1024, 1);
    check_body_of(1 << 20, 16384);
    check_body_of(1 << 20, 4093);
    check_body_of(limits.max_body_bytes, 16384);
}

static void test_pipelined_requests_are_answered_in_order(void **state)
{
    (void)state;
    size_t len1, len2;
    unsigned long sum1, sum2;
    char *first = post(50000, "", &len1, &sum1);
    char *second = post(3, "", &len2, &sum2);
    buffer both;
    buffer_init(&both, 0);
    buffer_append(&both, first, len1);
    buffer_append(&both, second, len2);
    buffer_append_str(&both, "GET /readyz HTTP/1.1\r\n\r\n");
    for (size_t piece = 1; piece <= 16384; piece *= 8) {
        exchange x;
        exchange_open(&x, 16 << 20);
        exchange_feed(&x, both.data, both.len, piece);
        assert_int_equal(x.calls, 3);
        const char *text = buffer_cstr(&x.sent);
        const char *a = strstr(text, "POST /mutate?timeout=10s 50000 ");
        const char *b = strstr(text, "POST /mutate?timeout=10s 3 ");
        const char *c = strstr(text, "GET /readyz 0 0");
        assert_true(a && b && c && a < b && b < c);
        exchange_close(&x);
    }
    buffer_free(&both);
    free(first);
    free(second);
}

static void test_expect_continue_is_answered_before_the_body(void **state)
{
    (void)state;
    size_t len;
    unsigned long sum;
    char *request = post(100000, "Expect: 100-continue\r\n", &len, &sum);
    size_t head_len = (size_t)(strstr(request, "\r\n\r\n") + 4 - request);
    exchange x;
    exchange_open(&x, 16 << 20);
    exchange_feed(&x, request, head_len, 16384);
    assert_string_equal(buffer_cstr(&x.sent), "HTTP/1.1 100 Continue\r\n\r\n");
    assert_int_equal(http_connection_phase(&x.c), HTTP_PHASE_BODY);
    exchange_feed(&x, request + head_len, len - head_len, 16384);
    assert_int_equal(x.calls, 1);
    exchange_close(&x);
    free(request);
}

/* The budget holds one request of 1 MiB but not two at once: the second
 * connection is refused with 503 and Retry-After at once, before its body. */
static void test_the_budget_refuses_what_it_cannot_hold(void **state)
{
    (void)state;
    size_t len;
    unsigned long sum;
    char *request = post(1 << 20, "", &len, &sum);
    size_t head_len = (size_t)(strstr(request, "\r\n\r\n") + 4 - request);
    exchange first, second;
    exchange_open(&first, 0);
    first.budget.limit = (1 << 20) + (1 << 19);
    http_connection_init(&second.c, &limits, &first.budget, echo, &second.calls, "test");
    buffer_init(&second.sent, 0);
    second.calls = 0;
    exchange_feed(&first, request, head_len + 10, 16384); /* holds room for its whole body */
    exchange_feed(&second, request, head_len + 10, 16384);
    assert_non_null(strstr(buffer_cstr(&second.sent), "HTTP/1.1 503 Service Unavailable\r\n"));
    assert_non_null(strstr(buffer_cstr(&second.sent), "Retry-After: 1\r\n"));
    assert_int_equal(http_connection_phase(&second.c), HTTP_PHASE_DONE);
    exchange_feed(&first, request + head_len + 10, len - head_len - 10, 16384);
    assert_int_equal(first.calls, 1);
    http_connection_free(&second.c);
    buffer_free(&second.sent);
    exchange_close(&first);
    free(request);
}

static void test_a_request_cut_short_times_out_with_408(void **state)
{
    (void)state;
    size_t len;
    unsigned long sum;
    char *request = post(1000, "", &len, &sum);
    exchange x;
    exchange_open(&x, 16 << 20);
    exchange_feed(&x, request, len - 1, 7);
    assert_int_equal(http_connection_phase(&x.c), HTTP_PHASE_BODY);
    assert_true(http_connection_time_out(&x.c));
    exchange_feed(&x, "", 0, 1);
    assert_non_null(strstr(buffer_cstr(&x.sent), "HTTP/1.1 408 Request Timeout\r\n"));
    assert_int_equal(http_connection_phase(&x.c), HTTP_PHASE_DONE);
    assert_int_equal(x.calls, 0);
    exchange_close(&x);
    free(request);
    exchange idle;
    exchange_open(&idle, 1 << 20);
    assert_false(http_connection_time_out(&idle.c)); /* nothing received: just close */
    exchange_close(&idle);
}

/* A head trickled in a byte at a time is looked at once: each call resumes
 * where the last one stopped (a slowloris client costs no more than any
 * other), and a bad line end is refused as soon as it arrives. */
static void test_a_head_sent_a_byte_at_a_time_is_scanned_once(void **state)
{
    (void)state;
    buffer head;
    buffer_init(&head, 0);
    buffer_append_str(&head, "GET /healthz HTTP/1.1\r\n");
    for (int line = 0; line < 40; line++) { /* 12 KB in 40 headers (the limit is 64) */
        buffer_append_str(&head, "X-Pad: ");
        for (int i = 0; i < 300; i++)
            buffer_append_char(&head, 'a');
        buffer_append_str(&head, "\r\n");
    }
    buffer_append_str(&head, "\r\n");
    exchange x;
    exchange_open(&x, 16 << 20);
    for (size_t i = 0; i + 1 < head.len; i++) {
        http_connection_receive(&x.c, head.data + i, 1, 0);
        assert_int_equal(http_connection_process(&x.c), HTTP_PHASE_HEAD);
        /* All of it looked at, but a CR whose LF may still come. */
        assert_int_equal(x.c.head_scanned, head.data[i] == '\r' ? i : i + 1);
    }
    exchange_feed(&x, head.data + head.len - 1, 1, 1);
    assert_int_equal(x.calls, 1);
    exchange_close(&x);
    exchange bad;
    exchange_open(&bad, 16 << 20);
    exchange_feed(&bad, "GET /healthz HTTP/1.1\r\nX-A: b\n", 31, 1);
    assert_non_null(strstr(buffer_cstr(&bad.sent), "HTTP/1.1 400 Bad Request\r\n"));
    exchange_close(&bad);
    buffer_free(&head);
}

/* Answers with as many bytes as the target's number says: "/N". */
static void answer_of_size(void *context, const http_request *req, http_response *res)
{
    (void)context;
    size_t n = strtoul(req->head->target + 1, NULL, 10);
    res->status = 200;
    for (size_t i = 0; i < n; i++)
        buffer_append_char(&res->body, (char)('a' + i % 26));
}

static void check_answer_of_size(const char *method, size_t size)
{
    char request[128];
    snprintf(request, sizeof(request), "%s /%zu HTTP/1.1\r\n\r\n", method, size);
    exchange x;
    exchange_open(&x, 16 << 20);
    x.c.handler = answer_of_size;
    exchange_feed(&x, request, strlen(request), 16384);
    char length[64];
    snprintf(length, sizeof(length), "\r\nContent-Length: %zu\r\n", size);
    assert_non_null(strstr(buffer_cstr(&x.sent), length));
    const char *body = strstr(buffer_cstr(&x.sent), "\r\n\r\n") + 4;
    size_t expected = strcmp(method, "HEAD") == 0 ? 0 : size;
    assert_int_equal(x.sent.len - (size_t)(body - x.sent.data), expected);
    for (size_t i = 0; i < expected; i++)
        assert_int_equal(body[i], 'a' + i % 26);
    exchange_close(&x);
}

/* Small answers are copied after their head, large ones sent from the
 * handler's buffer: both say their own length and arrive whole. */
static void test_answers_small_and_large_go_out_whole(void **state)
{
    (void)state;
    static const size_t sizes[] = {0, 1, 16383, 16384, 100000, 5 << 20};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        check_answer_of_size("GET", sizes[i]);
        check_answer_of_size("HEAD", sizes[i]);
    }
}

int main(void)
{
    log_set_fd(-1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bodies_past_the_first_buffer_arrive_whole),
        cmocka_unit_test(test_pipelined_requests_are_answered_in_order),
        cmocka_unit_test(test_expect_continue_is_answered_before_the_body),
        cmocka_unit_test(test_the_budget_refuses_what_it_cannot_hold),
        cmocka_unit_test(test_a_request_cut_short_times_out_with_408),
        cmocka_unit_test(test_answers_small_and_large_go_out_whole),
        cmocka_unit_test(test_a_head_sent_a_byte_at_a_time_is_scanned_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
