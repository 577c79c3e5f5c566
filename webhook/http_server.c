/* The webhook's HTTPS server; see http_server.h.
 *
 * Each worker thread runs its own epoll loop over its own connections and
 * its own listening socket on the shared port (http_listener.c). A
 * connection is a TLS session over a socket plus the socket-free HTTP
 * state of http_connection.c; this file moves bytes between the two and
 * keeps time: every phase of a request has a deadline, checked a few times
 * a second. At the connection limit the oldest idle keep-alive connection
 * of the accepting worker is closed to admit the new one (as nginx does),
 * so idle connections can never lock clients out. Draining is announced
 * through an eventfd all workers watch.
 *
 * Longer than most files here (about 650 lines) on purpose: the worker's
 * event loop and the connection states it drives (handshake, framing,
 * answer, lingering close, idle list, deadlines) share one worker struct and
 * read best as one story, top to bottom; the bytes themselves are
 * http_connection.c's, the sockets' setup http_listener.c's. */
#include "http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
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

#include "clock.h"
#include "http_connection.h"
#include "http_listener.h"
#include "log.h"
#include "metrics.h"

#define READ_CHUNK 16384
#define WRITE_TIMEOUT_MS 10000
#define TIMER_SCAN_MS 200
#define MAX_EVENTS 64
#define ACCEPTS_PER_WAKEUP 16
/* Freed memory goes back to the system once this many connections have
 * closed since the busiest moment (a storm leaves glibc's heap full of
 * holes otherwise). */
#define TRIM_AFTER_CLOSED 64
/* A refused request's remaining bytes are read and dropped for at most
 * this long and this much, so that its client reads the refusal. */
#define LINGER_MS 2000
#define LINGER_BYTES (8u << 20)
/* TLS failures are logged with the library's reason, once a second at most
 * per worker (a scan or a storm would otherwise flood the log). */
#define TLS_LOG_INTERVAL_MS 1000

typedef struct connection {
    struct connection *prev, *next;           /* the worker's connections */
    struct connection *idle_prev, *idle_next; /* its idle ones, oldest first */
    bool in_idle_list;
    bool closed; /* waiting in the worker's graveyard to be freed */
    int fd;
    tls_connection *tls;
    bool handshaking;
    bool lingering; /* answered and shut for writing: dropping what still arrives */
    size_t lingered; /* bytes dropped so far */
    bool answered; /* an answer just went out: wait for epoll before reading */
    http_phase phase;
    uint32_t events; /* current epoll interest */
    uint64_t deadline_ms;
    http_connection http;
    char peer[64];
} connection;

typedef struct worker {
    struct http_server *server;
    pthread_t thread;
    int epoll_fd;
    int listen_fd;
    connection *connections;
    connection *idle_oldest, *idle_newest;
    /* Closed during this round of events; freed after it, because a later
     * event of the same round may still name them. */
    connection *graveyard;
    int connection_count;
    int busiest; /* most connections since memory was last trimmed */
    log_limit tls_failures;
    bool draining;
    bool running;
    char scratch[READ_CHUNK]; /* what TLS hands over, before the connection takes it */
} worker;

struct http_server {
    http_server_config config;
    http_limits limits;
    buffer_budget budget;
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
    return clock_monotonic_ms();
}

static uint64_t now_ns(void)
{
    return clock_monotonic_ns();
}

/* ---- idle connections: the ones that may be closed to admit new ones --- */

static void idle_remove(worker *wk, connection *c)
{
    if (!c->in_idle_list)
        return;
    if (c->idle_prev)
        c->idle_prev->idle_next = c->idle_next;
    else
        wk->idle_oldest = c->idle_next;
    if (c->idle_next)
        c->idle_next->idle_prev = c->idle_prev;
    else
        wk->idle_newest = c->idle_prev;
    c->idle_prev = c->idle_next = NULL;
    c->in_idle_list = false;
}

static void idle_append(worker *wk, connection *c)
{
    if (c->in_idle_list)
        return;
    c->idle_prev = wk->idle_newest;
    c->idle_next = NULL;
    if (wk->idle_newest)
        wk->idle_newest->idle_next = c;
    else
        wk->idle_oldest = c;
    wk->idle_newest = c;
    c->in_idle_list = true;
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
    idle_remove(wk, c);
    epoll_ctl(wk->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
    tls_connection_free(c->tls);
    close(c->fd);
    http_connection_free(&c->http);
    if (c->prev)
        c->prev->next = c->next;
    else
        wk->connections = c->next;
    if (c->next)
        c->next->prev = c->prev;
    wk->connection_count--;
    atomic_fetch_sub(&wk->server->connections, 1);
    metrics_connection_closed();
    c->closed = true;
    c->next = wk->graveyard;
    wk->graveyard = c;
}

static void bury_the_closed(worker *wk)
{
    while (wk->graveyard) {
        connection *next = wk->graveyard->next;
        free(wk->graveyard);
        wk->graveyard = next;
    }
}

static void log_tls_failure(worker *wk, const char *what, const char *peer, const char *reason)
{
    unsigned long left_out;
    if (log_limit_pass(&wk->tls_failures, now_ms(), TLS_LOG_INTERVAL_MS, &left_out))
        log_warn(what, LOG_STR("peer", peer), LOG_STR("reason", reason),
                 LOG_NUM("similar_not_logged", left_out));
}

static uint64_t phase_timeout_ms(const http_server *s, http_phase phase)
{
    switch (phase) {
    case HTTP_PHASE_IDLE:
        return (uint64_t)s->config.idle_timeout_ms;
    case HTTP_PHASE_BODY:
        return (uint64_t)s->config.body_timeout_ms;
    case HTTP_PHASE_ANSWER:
    case HTTP_PHASE_DONE:
        return WRITE_TIMEOUT_MS;
    case HTTP_PHASE_FRESH:
    case HTTP_PHASE_HEAD:
        break;
    }
    return (uint64_t)s->config.header_timeout_ms;
}

/* A new phase starts its own deadline, except the first request's head,
 * which must arrive within the header timeout of the handshake. */
static void enter_phase(worker *wk, connection *c, http_phase phase)
{
    if (phase == c->phase)
        return;
    if (!(c->phase == HTTP_PHASE_FRESH && phase == HTTP_PHASE_HEAD))
        c->deadline_ms = now_ms() + phase_timeout_ms(wk->server, phase);
    c->phase = phase;
    if (phase == HTTP_PHASE_FRESH || phase == HTTP_PHASE_IDLE)
        idle_append(wk, c);
    else
        idle_remove(wk, c);
}

/* Sends what the connection has to send. */
static tls_io write_output(connection *c)
{
    size_t len;
    const char *out = http_connection_output(&c->http, &len);
    size_t sent = 0;
    tls_io r = tls_connection_write(c->tls, out, len, &sent);
    if (r == TLS_IO_DONE) {
        http_connection_sent(&c->http, sent, now_ns());
        c->answered = http_connection_phase(&c->http) == HTTP_PHASE_IDLE;
    }
    return r;
}

/* Reads once what TLS has, within what the current request may still take:
 * the caller parses before asking for more, so a complete request costs no
 * read() that can only say "nothing more". */
static tls_io read_input(worker *wk, connection *c)
{
    size_t room = http_connection_read_room(&c->http);
    if (room == 0)
        return TLS_IO_WANT_READ;
    size_t got = 0;
    tls_io r = tls_connection_read(c->tls, wk->scratch, room < READ_CHUNK ? room : READ_CHUNK,
                                   &got);
    if (r == TLS_IO_DONE)
        http_connection_receive(&c->http, wk->scratch, got, now_ns());
    return r;
}

/* Lingering: the TLS session has said goodbye and the socket is shut for
 * writing; what the peer still sends is read raw and dropped until it
 * closes, the time is up or too much has come. */
static void start_lingering(worker *wk, connection *c)
{
    idle_remove(wk, c);
    tls_connection_free(c->tls); /* sends close_notify */
    c->tls = NULL;
    http_connection_free(&c->http);
    shutdown(c->fd, SHUT_WR);
    c->lingering = true;
    c->deadline_ms = now_ms() + LINGER_MS;
    set_interest(wk, c, EPOLLIN);
}

static void linger(worker *wk, connection *c)
{
    for (;;) {
        ssize_t n = recv(c->fd, wk->scratch, sizeof(wk->scratch), 0);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return; /* epoll says when more comes */
        if (n <= 0 || (c->lingered += (size_t)n) > LINGER_BYTES) {
            connection_close(wk, c);
            return;
        }
    }
}

/* Drives one connection as far as it can go without blocking. */
static void connection_step(worker *wk, connection *c)
{
    http_server *s = wk->server;
    if (c->closed)
        return;
    if (c->lingering) {
        linger(wk, c);
        return;
    }
    tls_io r;
    for (;;) {
        if (c->handshaking) {
            r = tls_connection_handshake(c->tls);
            if (r != TLS_IO_DONE)
                break;
            c->handshaking = false;
            c->deadline_ms = now_ms() + (uint64_t)s->config.header_timeout_ms;
            idle_append(wk, c);
            continue;
        }
        size_t pending;
        http_connection_output(&c->http, &pending);
        if (pending) {
            r = write_output(c);
            if (r != TLS_IO_DONE)
                break;
            continue;
        }
        /* Frame before reading: pipelined bytes may hold the next request,
         * and a complete request is answered even if the peer closed after
         * it (the read that sees the close comes after). */
        http_phase phase = http_connection_process(&c->http);
        enter_phase(wk, c, phase);
        if (phase == HTTP_PHASE_DONE) {
            if (http_connection_should_linger(&c->http)) {
                start_lingering(wk, c);
                linger(wk, c);
            } else {
                connection_close(wk, c);
            }
            return;
        }
        http_connection_output(&c->http, &pending);
        if (pending)
            continue;
        /* After an answer with nothing buffered, the next request is
         * epoll's to announce: a read() now would mostly say EAGAIN. */
        if (c->answered && phase == HTTP_PHASE_IDLE && !tls_connection_has_buffered(c->tls)) {
            c->answered = false;
            r = TLS_IO_WANT_READ;
            break;
        }
        c->answered = false;
        r = read_input(wk, c);
        if (r == TLS_IO_DONE)
            continue;
        if (r == TLS_IO_CLOSED) {
            connection_close(wk, c);
            return;
        }
        break;
    }
    if (r == TLS_IO_WANT_READ) {
        set_interest(wk, c, EPOLLIN);
    } else if (r == TLS_IO_WANT_WRITE) {
        set_interest(wk, c, EPOLLOUT);
    } else {
        if (c->handshaking)
            metrics_record_tls_handshake_failure(); /* failed or abandoned */
        if (r == TLS_IO_ERROR)
            log_tls_failure(wk, c->handshaking ? "TLS handshake failed" : "TLS error", c->peer,
                            tls_connection_error(c->tls));
        connection_close(wk, c);
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

/* Room for one more connection: under the limit, or by closing this
 * worker's oldest idle one. */
static bool make_room(worker *wk)
{
    http_server *s = wk->server;
    if (atomic_fetch_add(&s->connections, 1) < s->config.max_connections)
        return true;
    atomic_fetch_sub(&s->connections, 1);
    if (!wk->idle_oldest)
        return false;
    connection_close(wk, wk->idle_oldest);
    metrics_connection_reclaimed();
    atomic_fetch_add(&s->connections, 1);
    return true;
}

static void connection_open(worker *wk, int fd, const struct sockaddr_storage *addr)
{
    http_server *s = wk->server;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    connection *c = calloc(1, sizeof(*c));
    char reason[TLS_REASON_SIZE] = "out of memory";
    tls_connection *tls = c ? tls_connection_accept(s->tls, fd, reason) : NULL;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (!tls || epoll_ctl(wk->epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        if (!tls)
            log_tls_failure(wk, "cannot start a TLS session", "", reason);
        tls_connection_free(tls);
        free(c);
        close(fd);
        atomic_fetch_sub(&s->connections, 1);
        return;
    }
    c->fd = fd;
    c->tls = tls;
    c->events = EPOLLIN;
    c->handshaking = true;
    c->phase = HTTP_PHASE_FRESH;
    c->deadline_ms = now_ms() + (uint64_t)s->config.header_timeout_ms;
    format_peer(addr, c->peer, sizeof(c->peer));
    http_connection_init(&c->http, &s->limits, &s->budget, s->handler, s->context, c->peer);
    c->next = wk->connections;
    if (wk->connections)
        wk->connections->prev = c;
    wk->connections = c;
    if (++wk->connection_count > wk->busiest)
        wk->busiest = wk->connection_count;
    metrics_connection_opened();
    connection_step(wk, c);
}

/* Takes what waits on this worker's socket, a bounded number at a time so
 * the connections it already has are not kept waiting. */
static void accept_connections(worker *wk)
{
    for (int taken = 0; taken < ACCEPTS_PER_WAKEUP; taken++) {
        struct sockaddr_storage addr;
        socklen_t len = sizeof(addr);
        int fd = accept4(wk->listen_fd, (struct sockaddr *)&addr, &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN: none left */
        if (!make_room(wk)) {
            metrics_connection_rejected();
            close(fd);
            continue;
        }
        connection_open(wk, fd, &addr);
    }
}

/* A connection whose deadline passed: a request half received gets 408;
 * anything else (idle, a stalled handshake or answer) closes. */
static void expire(worker *wk, connection *c)
{
    if (!c->handshaking && !c->lingering && http_connection_time_out(&c->http)) {
        c->deadline_ms = now_ms() + WRITE_TIMEOUT_MS;
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
    if (wk->busiest - wk->connection_count >= TRIM_AFTER_CLOSED) {
        malloc_trim(0);
        wk->busiest = wk->connection_count;
    }
}

/* Draining: no new connections; idle ones close now, busy ones after their
 * answer (which says Connection: close). */
static void start_draining(worker *wk)
{
    wk->draining = true;
    epoll_ctl(wk->epoll_fd, EPOLL_CTL_DEL, wk->listen_fd, NULL);
    /* The eventfd stays readable: stop watching it or epoll would spin. */
    epoll_ctl(wk->epoll_fd, EPOLL_CTL_DEL, wk->server->wake_fd, NULL);
    connection *c = wk->connections;
    while (c) {
        connection *next = c->next;
        if (!c->handshaking && !c->lingering && http_connection_is_idle(&c->http))
            connection_close(wk, c);
        else
            c->http.draining = true;
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
        /* The wake event may come in the same batch as a request's last
         * bytes, in any order: drain first, so an answer written after the
         * server began draining says Connection: close. */
        if (!wk->draining && atomic_load(&s->draining))
            start_draining(wk);
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
        bury_the_closed(wk);
    }
    while (wk->connections)
        connection_close(wk, wk->connections);
    bury_the_closed(wk);
    tls_thread_cleanup();
    atomic_fetch_sub(&s->workers_running, 1);
    return NULL;
}

/* ---- the server -------------------------------------------------------- */

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

static bool open_listeners(http_server *s, char *error, size_t error_size)
{
    int *fds = calloc((size_t)s->worker_count, sizeof(int));
    if (!fds) {
        snprintf(error, error_size, "out of memory");
        return false;
    }
    s->port = http_listeners_open(s->config.listen, s->worker_count, fds, error, error_size);
    for (int i = 0; i < s->worker_count; i++)
        s->workers[i].listen_fd = fds[i];
    free(fds);
    return s->port >= 0;
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
    s->limits = (http_limits){.max_header_bytes = config->max_header_bytes,
                              .max_body_bytes = config->max_body_bytes};
    s->budget.limit = config->max_buffered_bytes;
    metrics_watch_buffered_bytes(&s->budget);
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
        s->workers[i].server = s;
        s->workers[i].epoll_fd = -1;
        s->workers[i].listen_fd = -1;
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
    metrics_watch_buffered_bytes(NULL);
    server_free(s);
}
