/* One HTTP/1.1 connection's bytes, without sockets or clocks: what the peer
 * sent, the requests framed in it (head limits, Content-Length,
 * 100-continue, pipelining, keep-alive), and the answers to send back. The
 * server (http_server.c) feeds it what TLS reads and sends what it asks for;
 * the fuzzer feeds it any bytes cut at any place.
 *
 * No pointer into the input outlives a change of it: between calls the
 * connection keeps only offsets and lengths, and a head is parsed again
 * where the handler needs it (picohttpparser's contract, see STYLE.md).
 * Every byte it holds, received or to send, is drawn from a budget shared
 * by all connections; a request that cannot be held is refused with 503. */
#ifndef HTTP_CONNECTION_H
#define HTTP_CONNECTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buffer.h"
#include "http_message.h"

typedef struct http_limits {
    size_t max_header_bytes;
    size_t max_body_bytes;
} http_limits;

/* Where the current request stands; the server picks its deadline from it. */
typedef enum {
    HTTP_PHASE_FRESH,  /* connected, nothing received yet */
    HTTP_PHASE_IDLE,   /* keep-alive: nothing received since the last answer */
    HTTP_PHASE_HEAD,   /* part of a request head received */
    HTTP_PHASE_BODY,   /* head framed, body arriving (or 100 Continue going out) */
    HTTP_PHASE_ANSWER, /* the answer is going out */
    HTTP_PHASE_DONE,   /* the last answer went out: close the connection */
} http_phase;

typedef struct http_connection {
    const http_limits *limits;
    http_handler handler;
    void *context;
    const char *peer;
    buffer in;       /* received, not yet answered */
    buffer out;      /* to send: an answer's head (and a small body) */
    buffer out_body; /* then a large body, taken over from the handler uncopied */
    size_t out_sent; /* of out, then of out_body */
    size_t head_len;     /* 0 until the current request's head is framed */
    size_t head_scanned; /* bytes of an unframed head known not to end it */
    size_t body_len;
    uint64_t started_ns; /* monotonic time of the current request's first byte */
    bool fresh;          /* no request received yet */
    bool keep_alive;
    bool head_method;  /* HEAD: the answer goes without its body */
    bool interim;      /* `out` holds "100 Continue": the body comes after it */
    bool last_answer;  /* close once `out` is sent */
    bool refused_mid_request; /* the peer may still be sending what was refused */
    bool draining;     /* the server is stopping: answer with Connection: close */
} http_connection;

void http_connection_init(http_connection *c, const http_limits *limits, buffer_budget *budget,
                          http_handler handler, void *context, const char *peer);
void http_connection_free(http_connection *c);

/* How many more bytes the current request may take from the peer: the rest
 * of its head allowance, or of its body; 0 while an answer is going out. */
size_t http_connection_read_room(const http_connection *c);
/* Takes bytes received (at most read_room of them); now_ns stamps the first
 * byte of a request. */
void http_connection_receive(http_connection *c, const char *data, size_t n, uint64_t now_ns);
/* Frames what was received and hands each complete request to the handler;
 * returns where the connection stands. With ANSWER (or BODY with an interim
 * answer) there is output to send. */
http_phase http_connection_process(http_connection *c);

/* Output not yet sent (len 0: none). */
const char *http_connection_output(const http_connection *c, size_t *len);
/* n bytes of the output went out; once all of it has, the connection moves
 * on to the next request (keeping pipelined bytes, stamped now_ns) or to DONE. */
void http_connection_sent(http_connection *c, size_t n, uint64_t now_ns);

/* A deadline passed: a request partly received is answered 408 (true: send
 * that, then close); otherwise false: just close. */
bool http_connection_time_out(http_connection *c);
/* Answers status at once (server-level refusals such as 503) and closes after. */
void http_connection_refuse(http_connection *c, int status, const char *message);
/* The last answer refused a request still arriving: closing at once would
 * reset the connection and lose the answer, so the server first lets the
 * peer finish sending (and discards it), as nginx's lingering close does. */
bool http_connection_should_linger(const http_connection *c);
/* Nothing received of a next request, nothing to send: safe to close. */
bool http_connection_is_idle(const http_connection *c);
http_phase http_connection_phase(const http_connection *c);

#endif
