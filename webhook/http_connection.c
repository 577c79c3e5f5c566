/* One connection's HTTP/1.1 bytes, without sockets; see http_connection.h.
 *
 * The story of a request: bytes arrive (receive), the head is parsed once
 * enough of it is there and the whole request's room is set aside from the
 * budget (frame), the handler answers once the body is complete (dispatch),
 * and when the answer has gone out the request's bytes are dropped, keeping
 * whatever the peer pipelined after it (sent). */
#include "http_connection.h"

#include <string.h>

#include "log.h"
#include "metrics.h"

/* A buffer larger than this is given back once its request is answered. */
#define KEPT_BUFFER_BYTES 16384
/* Room for the status line and headers of an answer. */
#define ANSWER_HEAD_BYTES 256
/* A body this large is sent from the handler's own buffer rather than
 * copied after the head: an answer is never held twice. */
#define COPIED_BODY_BYTES 16384

static const char CONTINUE[] = "HTTP/1.1 100 Continue\r\n\r\n";

enum { HEAD_NOT_YET = 0, HEAD_BAD_LINE_END = -1 };

void http_connection_init(http_connection *c, const http_limits *limits, buffer_budget *budget,
                          http_handler handler, void *context, const char *peer)
{
    memset(c, 0, sizeof(*c));
    c->limits = limits;
    c->handler = handler;
    c->context = context;
    c->peer = peer;
    c->fresh = true;
    buffer_init(&c->in, limits->max_header_bytes + limits->max_body_bytes);
    buffer_init(&c->out, 0);
    c->in.budget = budget;
    c->out.budget = budget;
}

void http_connection_free(http_connection *c)
{
    buffer_free(&c->in);
    buffer_free(&c->out);
    buffer_free(&c->out_body);
}

static bool has_output(const http_connection *c)
{
    return c->out_sent < c->out.len + c->out_body.len;
}

http_phase http_connection_phase(const http_connection *c)
{
    if (has_output(c))
        return c->interim ? HTTP_PHASE_BODY : HTTP_PHASE_ANSWER;
    if (c->last_answer)
        return HTTP_PHASE_DONE;
    if (c->head_len)
        return HTTP_PHASE_BODY;
    if (c->in.len)
        return HTTP_PHASE_HEAD;
    return c->fresh ? HTTP_PHASE_FRESH : HTTP_PHASE_IDLE;
}

bool http_connection_is_idle(const http_connection *c)
{
    http_phase phase = http_connection_phase(c);
    return phase == HTTP_PHASE_FRESH || phase == HTTP_PHASE_IDLE;
}

size_t http_connection_read_room(const http_connection *c)
{
    if (has_output(c) || c->last_answer)
        return 0;
    size_t allowed = c->head_len ? c->head_len + c->body_len : c->limits->max_header_bytes;
    return c->in.len < allowed ? allowed - c->in.len : 0;
}

/* Takes over the handler's body buffer when the budget can hold it. */
static bool take_body(http_connection *c, buffer *body)
{
    buffer_budget *budget = c->out.budget;
    if (!buffer_budget_take(budget, body->cap))
        return false;
    c->out_body = *body;
    c->out_body.budget = budget;
    buffer_init(body, body->limit);
    return true;
}

/* Queues an answer: its head and (unless the request was HEAD) its body. */
static void queue_answer(http_connection *c, http_response *res, bool head_method)
{
    if (c->draining)
        c->keep_alive = false;
    if (!c->keep_alive)
        c->last_answer = true;
    buffer_reset(&c->out);
    c->out_sent = 0;
    size_t body = head_method ? 0 : res->body.len;
    bool copy = body < COPIED_BODY_BYTES;
    if (buffer_reserve(&c->out, ANSWER_HEAD_BYTES + (copy ? body : 0))) {
        http_response_write_head(res, !c->last_answer, &c->out);
        if (copy)
            buffer_append(&c->out, res->body.data, body);
    }
    if (!buffer_ok(&c->out)) {
        /* Not even the answer's head fits the budget: closing is all that is left. */
        buffer_free(&c->out);
        c->last_answer = true;
        return;
    }
    if (!copy && !take_body(c, &res->body)) {
        http_connection_refuse(c, 503, "the webhook holds too many answer bytes right now: "
                                       "retry");
        return;
    }
    metrics_record_http_response(res->status);
}

bool http_connection_should_linger(const http_connection *c)
{
    return c->refused_mid_request;
}

void http_connection_refuse(http_connection *c, int status, const char *message)
{
    http_phase phase = http_connection_phase(c);
    c->refused_mid_request = phase == HTTP_PHASE_HEAD || phase == HTTP_PHASE_BODY;
    http_response res;
    http_response_init(&res);
    http_response_error(&res, status, message);
    if (status == 503)
        res.retry_after = "1";
    if (status != 408)
        log_warn("http request refused", LOG_STR("peer", c->peer), LOG_NUM("status", status),
                 LOG_STR("error", message));
    c->keep_alive = false; /* the framing of what follows can no longer be trusted */
    c->interim = false;
    queue_answer(c, &res, false);
    http_response_free(&res);
}

void http_connection_receive(http_connection *c, const char *data, size_t n, uint64_t now_ns)
{
    if (n == 0)
        return;
    if (c->in.len == 0)
        c->started_ns = now_ns;
    if (!buffer_append(&c->in, data, n))
        http_connection_refuse(c, 503, "the webhook holds too many request bytes right now: "
                                       "retry");
}

/* The request's head is parsed: checks its framing and sets aside room for
 * the whole request at once, so the body never moves the buffer while it
 * arrives (setting it aside may move it once, so a request not complete now
 * has its head parsed again when it is). Returns false when refused (the
 * refusal is queued). */
static bool frame(http_connection *c, const http_request_head *head, size_t head_len)
{
    const char *message = NULL;
    http_framing framing;
    int refusal = http_request_framing(head, c->limits->max_body_bytes, &framing, &message);
    if (refusal) {
        http_connection_refuse(c, refusal, message);
        return false;
    }
    size_t total = head_len + framing.body_len;
    if (c->in.len < total && !buffer_reserve_exact(&c->in, total - c->in.len)) {
        http_connection_refuse(c, 503, "the webhook holds too many request bytes right now: "
                                       "retry");
        return false;
    }
    c->head_len = head_len;
    c->head_scanned = 0;
    c->body_len = framing.body_len;
    c->keep_alive = framing.keep_alive;
    c->head_method = framing.head_method;
    if (framing.expects_continue && c->body_len > 0 && c->in.len < total) {
        buffer_reset(&c->out);
        buffer_append(&c->out, CONTINUE, sizeof(CONTINUE) - 1);
        c->out_sent = 0;
        c->interim = buffer_ok(&c->out);
    }
    return true;
}

/* Hands a complete request to the handler; head is valid for c->in as it
 * is. The request's bytes are dropped as soon as it is answered (keeping what
 * was pipelined after it): a slow reader of a large answer holds only that. */
static void dispatch(http_connection *c, const http_request_head *head)
{
    http_request req = {
        .head = head,
        .body = c->in.data + c->head_len,
        .body_len = c->body_len,
        .peer = c->peer,
        .started_ns = c->started_ns,
    };
    http_response res;
    http_response_init(&res);
    c->handler(c->context, &req, &res);
    buffer_consume(&c->in, c->head_len + c->body_len);
    c->head_len = c->body_len = 0;
    queue_answer(c, &res, c->head_method);
    http_response_free(&res);
}

/* Where the head ends (the offset after its blank line), HEAD_NOT_YET, or
 * HEAD_BAD_LINE_END for a line end that is not CRLF. It looks only at bytes
 * it has not looked at before, so a head sent a byte at a time costs no more
 * than one sent whole; the parser then runs once over the whole head. */
static long find_head_end(http_connection *c, size_t scan)
{
    const char *d = c->in.data;
    size_t i = c->head_scanned;
    for (; i < scan; i++) {
        if (d[i] == '\r') {
            if (i + 1 == scan)
                break; /* its LF has not arrived */
            if (d[i + 1] != '\n')
                return HEAD_BAD_LINE_END;
        } else if (d[i] == '\n') {
            if (i == 0 || d[i - 1] != '\r')
                return HEAD_BAD_LINE_END;
            if (i >= 3 && d[i - 2] == '\n' && d[i - 3] == '\r')
                return (long)i + 1;
        }
    }
    c->head_scanned = i;
    return HEAD_NOT_YET;
}

/* RFC 9112 2.2: empty lines before a request line are ignored. */
static void drop_leading_empty_lines(http_connection *c)
{
    size_t blank = 0;
    while (blank + 1 < c->in.len && c->in.data[blank] == '\r' && c->in.data[blank + 1] == '\n')
        blank += 2;
    if (blank)
        buffer_consume(&c->in, blank);
}

/* Parses the head once it has fully arrived: its length, 0 while it has
 * not, or a negative HTTP_PARSE_* value. */
static int parse_head(http_connection *c, http_request_head *head)
{
    if (c->head_scanned == 0)
        drop_leading_empty_lines(c);
    size_t max_head = c->limits->max_header_bytes;
    long end = find_head_end(c, c->in.len < max_head ? c->in.len : max_head);
    if (end == HEAD_BAD_LINE_END)
        return HTTP_PARSE_MALFORMED;
    if (end == HEAD_NOT_YET)
        return c->in.len < max_head ? 0 : HTTP_PARSE_TOO_MANY_HEADERS;
    int r = http_parse_request_head(c->in.data, (size_t)end, head);
    return r == HTTP_PARSE_INCOMPLETE ? HTTP_PARSE_MALFORMED : r;
}

http_phase http_connection_process(http_connection *c)
{
    if (has_output(c) || c->last_answer || c->in.len == 0)
        return http_connection_phase(c);
    http_request_head head;
    bool framed_now = c->head_len == 0;
    if (framed_now) {
        int r = parse_head(c, &head);
        if (r == 0)
            return http_connection_phase(c);
        if (r == HTTP_PARSE_TOO_MANY_HEADERS)
            http_connection_refuse(c, 431, "request head over the size or header-count limit");
        else if (r < 0)
            http_connection_refuse(c, 400, "malformed HTTP request");
        if (r < 0 || !frame(c, &head, (size_t)r))
            return http_connection_phase(c);
    }
    if (c->in.len < c->head_len + c->body_len)
        return HTTP_PHASE_BODY;
    /* Framed in an earlier call: the same bytes parse to the same head, now
     * pointing where they are. */
    if (!framed_now && http_parse_request_head(c->in.data, c->head_len, &head) !=
                           (int)c->head_len) {
        http_connection_refuse(c, 500, "request head changed while its body arrived");
        return http_connection_phase(c);
    }
    dispatch(c, &head);
    return http_connection_phase(c);
}

const char *http_connection_output(const http_connection *c, size_t *len)
{
    if (c->out_sent < c->out.len) {
        *len = c->out.len - c->out_sent;
        return c->out.data + c->out_sent;
    }
    size_t at = c->out_sent - c->out.len;
    *len = c->out_body.len - at;
    return c->out_body.data ? c->out_body.data + at : "";
}

void http_connection_sent(http_connection *c, size_t n, uint64_t now_ns)
{
    c->out_sent += n;
    if (has_output(c))
        return;
    buffer_free(&c->out);
    buffer_free(&c->out_body);
    c->out_sent = 0;
    if (c->interim) {
        c->interim = false;
        return;
    }
    c->fresh = false;
    if (c->last_answer || c->in.len == 0) {
        buffer_free(&c->in); /* idle keep-alive connections hold no buffers */
    } else {
        buffer_shrink(&c->in, KEPT_BUFFER_BYTES);
        c->head_scanned = 0;
        c->started_ns = now_ns;
    }
}

bool http_connection_time_out(http_connection *c)
{
    http_phase phase = http_connection_phase(c);
    if ((phase != HTTP_PHASE_HEAD && phase != HTTP_PHASE_BODY) || has_output(c))
        return false; /* idle, or stuck sending: nothing to answer */
    http_connection_refuse(c, 408, "request not received in time");
    return has_output(c);
}
