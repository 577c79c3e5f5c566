/* The webhook's HTTPS server; see http_server.h.
 *
 * Each worker thread runs its own epoll loop over its own connections and
 * its own listening socket on the shared port (SO_REUSEPORT: the kernel
 * spreads new connections over the workers; one shared socket lets a busy
 * worker take them all, leaving the other cores idle). A connection moves
 * HANDSHAKE -> READ -> WRITE -> READ ... and every blocking point is a wait
 * for epoll, never a blocking call. Every state has a deadline, checked a
 * few times a second. Draining is announced through an eventfd all workers
 * watch. */
#include "http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"

#define READ_CHUNK 16384
#define IDLE_BUFFER_KEEP 16384 /* a buffer larger than this is given back between requests */
#define WRITE_TIMEOUT_MS 10000
#define TIMER_SCAN_MS 200
#define MAX_EVENTS 64
#define ACCEPTS_PER_WAKEUP 16

typedef enum { CONN_HANDSHAKE, CONN_READ, CONN_WRITE } connection_state;

typedef struct connection {
    struct connection *prev, *next;
    int fd;
    tls_connection *tls;
    connection_state state;
    uint32_t events; /* current epoll interest */
    buffer in;
    buffer out;
    size_t out_sent;
    http_request_head head;
    size_t head_len; /* 0 until the current request's head is parsed */
    size_t body_len;
    bool keep_alive;
    bool head_method;       /* HEAD: answer without a body */
    bool interim;           /* `out` holds "100 Continue"; reading resumes after it */
    bool close_after_write;
    bool answered;          /* an answer was just written: wait for epoll to read */
    uint64_t deadline_ms;
    uint64_t started_ns; /* first byte of the current request */
    char peer[64];
} connection;

typedef struct worker {
    struct http_server *server;
    pthread_t thread;
    int epoll_fd;
    int listen_fd;
    connection *connections;
    int connection_count;
    bool draining;
    bool running;
} worker;

struct http_server {
    http_server_config config;
    tls_server *tls;
    http_handler handler;
    void *context;
    int wake_fd; /* eventfd: written once to start draining, again to stop */
    int port;
    atomic_int connections;
    atomic_bool draining;
    atomic_bool stopping;
    atomic_int workers_running;
    worker *workers;
    int worker_count;
    char listen_marker; /* epoll data.ptr of the listening socket */
    char wake_marker;   /* and of the eventfd */
};

static uint64_t now_ms(void)
{
    return monotonic_ns() / 1000000u;
}

/* ---- connections ------------------------------------------------------- */

static void set_interest(worker *wk, connection *c, uint32_t events)
{
    if (c->events == events)
        return;
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(wk->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
        c->events = events;
}

static void connection_close(worker *wk, connection *c)
{
    epoll_ctl(wk->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
    tls_connection_free(c->tls);
    close(c->fd);
    buffer_free(&c->in);
    buffer_free(&c->out);
    if (c->prev)
        c->prev->next = c->next;
    else
        wk->connections = c->next;
    if (c->next)
        c->next->prev = c->prev;
    wk->connection_count--;
    atomic_fetch_sub(&wk->server->connections, 1);
    metrics_connection_closed();
    free(c);
}

/* Serializes a response into c->out and switches to writing. */
static void queue_response(worker *wk, connection *c, http_response *res)
{
    if (wk->draining || atomic_load(&wk->server->draining))
        c->keep_alive = false;
    if (!c->keep_alive)
        c->close_after_write = true;
    buffer_reset(&c->out);
    buffer_reserve(&c->out, 256 + (c->head_method ? 0 : res->body.len));
    buffer_append_str(&c->out, "HTTP/1.1 ");
    buffer_append_uint(&c->out, (uint64_t)res->status);
    buffer_append_char(&c->out, ' ');
    buffer_append_str(&c->out, http_status_text(res->status));
    buffer_append_str(&c->out, "\r\nContent-Type: ");
    buffer_append_str(&c->out, res->content_type ? res->content_type : "text/plain");
    buffer_append_str(&c->out, "\r\nContent-Length: ");
    buffer_append_uint(&c->out, res->body.len);
    buffer_append_str(&c->out, "\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n");
    if (res->allow) {
        buffer_append_str(&c->out, "Allow: ");
        buffer_append_str(&c->out, res->allow);
        buffer_append_str(&c->out, "\r\n");
    }
    buffer_append_str(&c->out, c->close_after_write ? "Connection: close\r\n\r\n"
                                                    : "Connection: keep-alive\r\n\r\n");
    if (!c->head_method)
        buffer_append(&c->out, res->body.data, res->body.len);
    c->out_sent = 0;
    c->state = CONN_WRITE;
    c->deadline_ms = now_ms() + WRITE_TIMEOUT_MS;
    metrics_record_http_response(res->status);
}

/* An error the server answers itself (before routing); the connection
 * closes afterwards because its framing can no longer be trusted. */
static void queue_error(worker *wk, connection *c, int status, const char *message)
{
    http_response res;
    http_response_init(&res);
    http_response_error(&res, status, message);
    c->keep_alive = false;
    if (status != 408)
        log_warn("http request refused", LOG_STR("peer", c->peer), LOG_NUM("status", status),
                 LOG_STR("error", message));
    queue_response(wk, c, &res);
    http_response_free(&res);
}

/* Hands a complete request to the handler and queues its answer. */
static void dispatch(worker *wk, connection *c)
{
    http_server *s = wk->server;
    webhook_request req = {
        .head = &c->head,
        .body = c->in.data + c->head_len,
        .body_len = c->body_len,
        .peer = c->peer,
        .started_ns = c->started_ns,
    };
    http_response res;
    http_response_init(&res);
    s->handler(s->context, &req, &res);
    queue_response(wk, c, &res);
    http_response_free(&res);
}

typedef enum { PARSE_NEED_MORE, PARSE_QUEUED } parse_result;

/* Looks at what has been read: parses the head once, checks framing,
 * dispatches when the body is complete. */
static parse_result parse_request(worker *wk, connection *c)
{
    http_server *s = wk->server;
    if (c->head_len == 0) {
        size_t scan = c->in.len < s->config.max_header_bytes ? c->in.len
                                                               : s->config.max_header_bytes;
        int r = scan ? http_parse_request_head(c->in.data, scan, &c->head)
                     : HTTP_PARSE_INCOMPLETE;
        if (r == HTTP_PARSE_INCOMPLETE && c->in.len < s->config.max_header_bytes)
            return PARSE_NEED_MORE;
        if (r == HTTP_PARSE_INCOMPLETE || r == HTTP_PARSE_TOO_MANY_HEADERS) {
            queue_error(wk, c, 431, "request head over the size or header-count limit");
            return PARSE_QUEUED;
        }
        if (r < 0) {
            queue_error(wk, c, 400, "malformed HTTP request");
            return PARSE_QUEUED;
        }
        const char *message = NULL;
        http_framing framing;
        c->head_len = (size_t)r;
        int refusal = http_request_framing(&c->head, s->config.max_body_bytes, &framing,
                                           &message);
        if (refusal) {
            queue_error(wk, c, refusal, message);
            return PARSE_QUEUED;
        }
        c->body_len = framing.body_len;
        c->keep_alive = framing.keep_alive;
        c->head_method = framing.head_method;
        c->deadline_ms = now_ms() + (uint64_t)s->config.body_timeout_ms;
        if (framing.expects_continue && c->body_len > 0 &&
            c->in.len < c->head_len + c->body_len) {
            buffer_reset(&c->out);
            buffer_append_str(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
            c->out_sent = 0;
            c->interim = true;
            c->state = CONN_WRITE;
            return PARSE_QUEUED;
        }
    }
    if (c->in.len < c->head_len + c->body_len)
        return PARSE_NEED_MORE;
    dispatch(wk, c);
    return PARSE_QUEUED;
}

/* Reads once what TLS has for us, within the limit of what this request may
 * use: the caller parses before asking for more, so a complete request
 * costs no read() that can only say "nothing more". */
static tls_io read_some(http_server *s, connection *c)
{
    size_t limit = c->head_len ? c->head_len + c->body_len : s->config.max_header_bytes;
    if (c->in.len >= limit)
        return TLS_IO_WANT_READ; /* at the read limit without a request: wait */
    size_t want = limit - c->in.len < READ_CHUNK ? limit - c->in.len : READ_CHUNK;
    if (!buffer_reserve(&c->in, want))
        return TLS_IO_ERROR;
    size_t got = 0;
    tls_io r = tls_connection_read(c->tls, c->in.data + c->in.len, want, &got);
    if (r != TLS_IO_DONE)
        return r;
    if (c->in.len == 0)
        c->started_ns = monotonic_ns();
    c->in.len += got;
    c->in.data[c->in.len] = '\0';
    return TLS_IO_DONE;
}

/* After an answer: keep any pipelined bytes, forget the request. */
static void reset_for_next_request(http_server *s, connection *c)
{
    buffer_consume(&c->in, c->head_len + c->body_len);
    c->head_len = c->body_len = 0;
    buffer_free(&c->out);
    c->out_sent = 0;
    c->close_after_write = false;
    c->state = CONN_READ;
    c->answered = true;
    if (c->in.len == 0) {
        buffer_free(&c->in); /* idle keep-alive connections hold no buffers */
        c->deadline_ms = now_ms() + (uint64_t)s->config.idle_timeout_ms;
    } else {
        buffer_shrink(&c->in, IDLE_BUFFER_KEEP);
        c->started_ns = monotonic_ns();
        c->deadline_ms = now_ms() + (uint64_t)s->config.header_timeout_ms;
    }
}

/* Drives one connection as far as it can go without blocking. */
static void connection_step(worker *wk, connection *c)
{
    http_server *s = wk->server;
    for (;;) {
        tls_io r = TLS_IO_ERROR;
        switch (c->state) {
        case CONN_HANDSHAKE:
            r = tls_connection_handshake(c->tls);
            if (r == TLS_IO_DONE) {
                c->state = CONN_READ;
                c->deadline_ms = now_ms() + (uint64_t)s->config.header_timeout_ms;
                continue;
            }
            break;
        case CONN_READ:
            /* Parse before reading: pipelined bytes may hold the next request,
             * and a complete request is answered even if the peer closed
             * after it (the read that sees the close comes after). */
            if (c->in.len > 0 && parse_request(wk, c) == PARSE_QUEUED)
                continue;
            /* After an answer with nothing buffered, the next request is
             * epoll's to announce: a read() now would mostly say EAGAIN. */
            if (c->answered && c->in.len == 0 && !tls_connection_has_buffered(c->tls)) {
                c->answered = false;
                r = TLS_IO_WANT_READ;
                break;
            }
            c->answered = false;
            r = read_some(s, c);
            if (r == TLS_IO_DONE)
                continue;
            if (r == TLS_IO_CLOSED || r == TLS_IO_ERROR) {
                connection_close(wk, c);
                return;
            }
            break;
        case CONN_WRITE:
            r = TLS_IO_DONE;
            while (c->out_sent < c->out.len) {
                size_t sent = 0;
                r = tls_connection_write(c->tls, c->out.data + c->out_sent,
                                         c->out.len - c->out_sent, &sent);
                if (r != TLS_IO_DONE)
                    break;
                c->out_sent += sent;
            }
            if (r != TLS_IO_DONE)
                break;
            if (c->interim) {
                c->interim = false;
                buffer_free(&c->out);
                c->state = CONN_READ;
                continue;
            }
            if (c->close_after_write) {
                connection_close(wk, c);
                return;
            }
            reset_for_next_request(s, c);
            continue;
        }
        if (r == TLS_IO_WANT_READ) {
            set_interest(wk, c, EPOLLIN);
        } else if (r == TLS_IO_WANT_WRITE) {
            set_interest(wk, c, EPOLLOUT);
        } else {
            if (c->state == CONN_HANDSHAKE)
                metrics_record_tls_handshake_failure();
            connection_close(wk, c);
        }
        return;
    }
}

static void format_peer(const struct sockaddr_storage *addr, char *out, size_t size)
{
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (addr->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        port = ntohs(in->sin_port);
    } else if (addr->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        port = ntohs(in6->sin6_port);
    }
    snprintf(out, size, addr->ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", host, port);
}

/* Takes what waits on this worker's socket, a bounded number at a time so
 * the connections it already has are not kept waiting. */
static void accept_connections(worker *wk)
{
    http_server *s = wk->server;
    for (int taken = 0; taken < ACCEPTS_PER_WAKEUP; taken++) {
        struct sockaddr_storage addr;
        socklen_t len = sizeof(addr);
        int fd = accept4(wk->listen_fd, (struct sockaddr *)&addr, &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN: none left */
        if (atomic_fetch_add(&s->connections, 1) >= s->config.max_connections) {
            atomic_fetch_sub(&s->connections, 1);
            metrics_connection_rejected();
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        connection *c = calloc(1, sizeof(*c));
        tls_connection *tls = c ? tls_connection_accept(s->tls, fd) : NULL;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (!tls || epoll_ctl(wk->epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            tls_connection_free(tls);
            free(c);
            close(fd);
            atomic_fetch_sub(&s->connections, 1);
            continue;
        }
        c->fd = fd;
        c->tls = tls;
        c->events = EPOLLIN;
        c->state = CONN_HANDSHAKE;
        c->deadline_ms = now_ms() + (uint64_t)s->config.header_timeout_ms;
        buffer_init(&c->in, s->config.max_header_bytes + s->config.max_body_bytes + 1);
        buffer_init(&c->out, 0);
        format_peer(&addr, c->peer, sizeof(c->peer));
        c->next = wk->connections;
        if (wk->connections)
            wk->connections->prev = c;
        wk->connections = c;
        wk->connection_count++;
        metrics_connection_opened();
        connection_step(wk, c);
    }
}

/* A connection whose deadline passed: an idle one just closes; a request
 * half-received gets 408; a stalled write or handshake closes. */
static void expire(worker *wk, connection *c)
{
    if (c->state == CONN_READ && (c->in.len > 0 || c->head_len > 0)) {
        queue_error(wk, c, 408, "request not received in time");
        connection_step(wk, c);
    } else {
        connection_close(wk, c);
    }
}

static void check_deadlines(worker *wk)
{
    uint64_t now = now_ms();
    connection *c = wk->connections;
    while (c) {
        connection *next = c->next;
        if (now >= c->deadline_ms)
            expire(wk, c);
        c = next;
    }
}

/* Draining: no new connections; idle ones close now, busy ones after their
 * answer (queue_response() turns keep-alive off). */
static void start_draining(worker *wk)
{
    wk->draining = true;
    epoll_ctl(wk->epoll_fd, EPOLL_CTL_DEL, wk->listen_fd, NULL);
    /* The eventfd stays readable: stop watching it or epoll would spin. */
    epoll_ctl(wk->epoll_fd, EPOLL_CTL_DEL, wk->server->wake_fd, NULL);
    connection *c = wk->connections;
    while (c) {
        connection *next = c->next;
        if (c->state == CONN_READ && c->in.len == 0 && c->head_len == 0)
            connection_close(wk, c);
        else
            c->keep_alive = false;
        c = next;
    }
}

static void *worker_main(void *arg)
{
    worker *wk = arg;
    http_server *s = wk->server;
    struct epoll_event events[MAX_EVENTS];
    uint64_t next_scan = now_ms() + TIMER_SCAN_MS;
    while (!(wk->draining && wk->connection_count == 0) && !atomic_load(&s->stopping)) {
        int n = epoll_wait(wk->epoll_fd, events, MAX_EVENTS, TIMER_SCAN_MS);
        for (int i = 0; i < n; i++) {
            void *p = events[i].data.ptr;
            if (p == &s->listen_marker) {
                if (!wk->draining)
                    accept_connections(wk);
            } else if (p == &s->wake_marker) {
                if (!wk->draining)
                    start_draining(wk);
            } else {
                connection_step(wk, p);
            }
        }
        if (now_ms() >= next_scan) {
            check_deadlines(wk);
            next_scan = now_ms() + TIMER_SCAN_MS;
        }
    }
    while (wk->connections)
        connection_close(wk, wk->connections);
    tls_thread_cleanup();
    atomic_fetch_sub(&s->workers_running, 1);
    return NULL;
}

/* ---- the server -------------------------------------------------------- */

/* --listen HOST:PORT resolved (numeric only: no name service). */
static struct addrinfo *listen_address_resolve(const char *listen_address, char *error,
                                               size_t error_size)
{
    char host[256];
    const char *colon = strrchr(listen_address, ':');
    if (!colon || colon == listen_address || (size_t)(colon - listen_address) >= sizeof(host)) {
        snprintf(error, error_size, "--listen %s: expected HOST:PORT", listen_address);
        return NULL;
    }
    size_t host_len = (size_t)(colon - listen_address);
    memcpy(host, listen_address, host_len);
    host[host_len] = '\0';
    if (host[0] == '[' && host[host_len - 1] == ']') { /* [v6]:port */
        memmove(host, host + 1, host_len - 2);
        host[host_len - 2] = '\0';
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(host, colon + 1, &hints, &ai);
    if (rc != 0) {
        snprintf(error, error_size, "--listen %s: %s", listen_address, gai_strerror(rc));
        return NULL;
    }
    return ai;
}

static void set_port(struct sockaddr *addr, int port)
{
    if (addr->sa_family == AF_INET6)
        ((struct sockaddr_in6 *)addr)->sin6_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in *)addr)->sin_port = htons((uint16_t)port);
}

/* A socket bound to addr; listening when `listening`. -1 with errno set. */
static int bound_socket(const struct addrinfo *ai, bool reuse_port, bool listening)
{
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || (listening && listen(fd, 1024) != 0)) {
        int saved = errno;
        if (fd >= 0)
            close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

/* One listening socket per worker on the same address. A first bind
 * without SO_REUSEPORT proves nobody else listens there (a second webhook
 * would otherwise quietly share the port) and picks the port for ":0". */
static bool open_listeners(http_server *s, char *error, size_t error_size)
{
    struct addrinfo *ai = listen_address_resolve(s->config.listen, error, error_size);
    if (!ai)
        return false;
    int probe = bound_socket(ai, false, false);
    bool ok = probe >= 0;
    if (ok) {
        struct sockaddr_storage bound;
        socklen_t len = sizeof(bound);
        getsockname(probe, (struct sockaddr *)&bound, &len);
        s->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                    : ((struct sockaddr_in *)&bound)->sin_port);
        close(probe);
        set_port(ai->ai_addr, s->port);
    }
    for (int i = 0; ok && i < s->worker_count; i++)
        ok = (s->workers[i].listen_fd = bound_socket(ai, true, true)) >= 0;
    if (!ok)
        snprintf(error, error_size, "--listen %s: %s", s->config.listen, strerror(errno));
    freeaddrinfo(ai);
    return ok;
}

static void server_free(http_server *s)
{
    for (int i = 0; i < s->worker_count; i++) {
        if (s->workers[i].epoll_fd >= 0)
            close(s->workers[i].epoll_fd);
        if (s->workers[i].listen_fd >= 0)
            close(s->workers[i].listen_fd);
    }
    free(s->workers);
    if (s->wake_fd >= 0)
        close(s->wake_fd);
    free(s);
}

http_server *http_server_start(const http_server_config *config, tls_server *tls,
                               http_handler handler, void *context, char *error,
                               size_t error_size)
{
    http_server *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(error, error_size, "out of memory");
        return NULL;
    }
    s->config = *config;
    s->tls = tls;
    s->handler = handler;
    s->context = context;
    s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    s->workers = calloc((size_t)config->threads, sizeof(worker));
    if (s->wake_fd < 0 || !s->workers) {
        snprintf(error, error_size, "cannot set up the server: %s", strerror(errno));
        server_free(s);
        return NULL;
    }
    for (int i = 0; i < config->threads; i++) {
        s->workers[i] = (worker){.server = s, .epoll_fd = -1, .listen_fd = -1};
        s->worker_count++;
    }
    if (!open_listeners(s, error, error_size))
        goto error;
    for (int i = 0; i < s->worker_count; i++) {
        worker *wk = &s->workers[i];
        wk->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        struct epoll_event listen_ev = {.events = EPOLLIN, .data.ptr = &s->listen_marker};
        struct epoll_event wake_ev = {.events = EPOLLIN, .data.ptr = &s->wake_marker};
        if (wk->epoll_fd < 0 ||
            epoll_ctl(wk->epoll_fd, EPOLL_CTL_ADD, wk->listen_fd, &listen_ev) != 0 ||
            epoll_ctl(wk->epoll_fd, EPOLL_CTL_ADD, s->wake_fd, &wake_ev) != 0) {
            snprintf(error, error_size, "cannot set up epoll: %s", strerror(errno));
            goto error;
        }
    }
    for (int i = 0; i < s->worker_count; i++) {
        if (pthread_create(&s->workers[i].thread, NULL, worker_main, &s->workers[i]) != 0) {
            snprintf(error, error_size, "cannot start worker threads");
            atomic_store(&s->stopping, true);
            uint64_t one = 1;
            if (write(s->wake_fd, &one, sizeof(one)) < 0) { /* nothing more to do */
            }
            for (int j = 0; j < i; j++)
                pthread_join(s->workers[j].thread, NULL);
            goto error;
        }
        s->workers[i].running = true;
        atomic_fetch_add(&s->workers_running, 1);
    }
    return s;
error:
    server_free(s);
    return NULL;
}

int http_server_port(const http_server *s)
{
    return s->port;
}

void http_server_drain_and_free(http_server *s, int timeout_ms)
{
    atomic_store(&s->draining, true);
    /* Stop listening now: new connections are refused instead of waiting in
     * the backlog for an accept that never comes. (The descriptors are closed
     * only after the workers are gone, so no thread races on it.) */
    for (int i = 0; i < s->worker_count; i++)
        shutdown(s->workers[i].listen_fd, SHUT_RDWR);
    uint64_t one = 1;
    if (write(s->wake_fd, &one, sizeof(one)) < 0)
        log_error("cannot signal worker threads", LOG_STR("error", strerror(errno)));
    uint64_t give_up = now_ms() + (uint64_t)timeout_ms;
    while (atomic_load(&s->workers_running) > 0 && now_ms() < give_up) {
        struct timespec pause = {0, 20 * 1000000};
        nanosleep(&pause, NULL);
    }
    if (atomic_load(&s->workers_running) > 0) {
        log_warn("drain timeout: closing connections still open",
                 LOG_NUM("connections", atomic_load(&s->connections)));
        atomic_store(&s->stopping, true);
    }
    for (int i = 0; i < s->worker_count; i++)
        if (s->workers[i].running)
            pthread_join(s->workers[i].thread, NULL);
    server_free(s);
}
