/* HTTP client over libcurl; see http_client.h.
 *
 * One loop drives everything: start what the feed offers while slots are
 * free, let curl work, and when a request finishes either hand it back to
 * the caller or, for a transient failure, park it until its retry time. The
 * loop never sleeps longer than 100 ms, so cancellation is seen quickly. */
#include "http_client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "clock.h"
#include "url.h"

#define RESPONSE_LIMIT (16 * 1024 * 1024)
#define CONNECT_TIMEOUT_MS 10000L
#define REQUEST_TIMEOUT_MS 60000L
#define MAX_POLL_MS 100

struct http_client {
    CURLM *multi;
    retry_policy policy;
    volatile const int *cancel;
    uint64_t attempts;
};

void http_exchange_init(http_exchange *x, const char *method, const char *url)
{
    memset(x, 0, sizeof(*x));
    x->method = method;
    x->url = strdup(url);
    buffer_init(&x->body, 0);
    buffer_init(&x->response, RESPONSE_LIMIT);
    x->retry_after_ms = -1;
    x->content_length = -1;
}

void http_exchange_free(http_exchange *x)
{
    free(x->url);
    buffer_free(&x->body);
    buffer_free(&x->response);
    for (size_t i = 0; i < x->header_count; i++) {
        free((char *)x->headers[i].name);
        free((char *)x->headers[i].value);
    }
    free(x->headers);
    x->headers = NULL;
    x->header_count = x->header_capacity = 0;
    if (x->easy)
        curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->curl_headers);
    x->easy = x->curl_headers = NULL;
}

bool http_exchange_set_header(http_exchange *x, const char *name, const char *value)
{
    char *copy = strdup(value);
    for (size_t i = 0; copy && i < x->header_count; i++) {
        if (strcasecmp(x->headers[i].name, name) == 0) {
            free((char *)x->headers[i].value);
            x->headers[i].value = copy;
            return true;
        }
    }
    if (copy && x->header_count == x->header_capacity) {
        size_t capacity = x->header_capacity ? x->header_capacity * 2 : 16;
        request_header *grown = realloc(x->headers, capacity * sizeof(*grown));
        if (grown) {
            x->headers = grown;
            x->header_capacity = capacity;
        }
    }
    char *name_copy = copy && x->header_count < x->header_capacity ? strdup(name) : NULL;
    if (!name_copy) {
        free(copy);
        x->header_failed = true;
        return false;
    }
    x->headers[x->header_count].name = name_copy;
    x->headers[x->header_count].value = copy;
    x->header_count++;
    return true;
}

const char *http_exchange_header(const http_exchange *x, const char *name)
{
    for (size_t i = 0; i < x->header_count; i++)
        if (strcasecmp(x->headers[i].name, name) == 0)
            return x->headers[i].value;
    return NULL;
}

void http_exchange_signed_view(const http_exchange *x, signed_request *view, buffer *path,
                               buffer *query)
{
    url_parts parts;
    buffer_reset(path);
    buffer_reset(query);
    if (url_split(x->url, &parts)) {
        buffer_append(path, parts.path, parts.path_len);
        if (parts.query)
            buffer_append(query, parts.query, parts.query_len);
    }
    view->method = x->method;
    view->path = buffer_cstr(path);
    view->query = query->len ? buffer_cstr(query) : NULL;
    view->headers = x->headers;
    view->header_count = x->header_count;
}

answer_kind http_exchange_answer(const http_exchange *x)
{
    return answer_classify(x->status);
}

bool http_client_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

void http_client_global_cleanup(void)
{
    curl_global_cleanup();
}

const char *http_client_library_version(void)
{
    return curl_version();
}

http_client *http_client_new(const retry_policy *policy, volatile const int *cancel)
{
    http_client *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->multi = curl_multi_init();
    if (!c->multi) {
        free(c);
        return NULL;
    }
    /* A few connections per host, kept and reused across requests. */
    curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 8L);
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, 16L);
    c->policy = *policy;
    c->cancel = cancel;
    return c;
}

void http_client_free(http_client *c)
{
    if (!c)
        return;
    curl_multi_cleanup(c->multi);
    free(c);
}

volatile const int *http_client_cancel_flag(const http_client *c)
{
    return c->cancel;
}

uint64_t http_client_attempts(const http_client *c)
{
    return c->attempts;
}

static size_t on_body(char *data, size_t size, size_t count, void *user)
{
    http_exchange *x = user;
    size_t n = size * count;
    return buffer_append(&x->response, data, n) ? n : 0;
}

static size_t on_header(char *data, size_t size, size_t count, void *user)
{
    http_exchange *x = user;
    size_t n = size * count;
    char line[256];
    size_t len = n < sizeof(line) - 1 ? n : sizeof(line) - 1;
    memcpy(line, data, len);
    line[len] = '\0';
    line[strcspn(line, "\r\n")] = '\0';
    char *colon = strchr(line, ':');
    if (!colon)
        return n;
    *colon = '\0';
    const char *value = colon + 1;
    while (*value == ' ' || *value == '\t')
        value++;
    if (strcasecmp(line, "request-id") == 0 || strcasecmp(line, "x-ms-request-id") == 0)
        snprintf(x->request_id, sizeof(x->request_id), "%s", value);
    else if (strcasecmp(line, "Retry-After") == 0)
        x->retry_after_ms = retry_after_parse(value, (int64_t)time(NULL));
    return n;
}

static bool method_has_body(const char *method)
{
    return strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
           strcmp(method, "PATCH") == 0;
}

/* Sets up the next attempt of x on its easy handle and adds it to curl. */
static bool start_attempt(http_client *c, http_exchange *x)
{
    if (!x->easy) {
        x->easy = curl_easy_init();
        if (!x->easy)
            return false;
    }
    CURL *e = x->easy;
    curl_easy_reset(e);
    buffer_reset(&x->response);
    x->request_id[0] = x->error[0] = '\0';
    x->status = 0;
    x->retry_after_ms = -1;
    x->content_length = -1;
    if (method_has_body(x->method)) {
        char length[32];
        snprintf(length, sizeof(length), "%zu", x->body.len);
        http_exchange_set_header(x, "Content-Length", length);
    }
    if (x->prepare && !x->prepare(x, x->prepare_context)) {
        if (!x->error[0])
            snprintf(x->error, sizeof(x->error), "the request could not be signed");
        return false;
    }
    if (x->header_failed) {
        snprintf(x->error, sizeof(x->error), "out of memory for the request's headers");
        return false;
    }
    curl_slist_free_all(x->curl_headers);
    struct curl_slist *list = curl_slist_append(NULL, "Expect:");
    for (size_t i = 0; i < x->header_count; i++) {
        char line[2048];
        snprintf(line, sizeof(line), "%s: %s", x->headers[i].name, x->headers[i].value);
        list = curl_slist_append(list, line);
    }
    x->curl_headers = list;
    curl_easy_setopt(e, CURLOPT_URL, x->url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     x->attempt_timeout_ms ? (long)x->attempt_timeout_ms : CONNECT_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
                     x->attempt_timeout_ms ? (long)x->attempt_timeout_ms : REQUEST_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 16384L);
    const char *ca_file = x->ca_file ? x->ca_file : getenv("BATCH_OFFLOAD_CA_FILE"); /* a private CA */
    if (ca_file && *ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, ca_file);
    if (method_has_body(x->method)) {
        if (strcmp(x->method, "POST") == 0)
            curl_easy_setopt(e, CURLOPT_POST, 1L);
        else
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, x->method);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body.data ? x->body.data : "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body.len);
    } else if (strcmp(x->method, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (strcmp(x->method, "GET") != 0) {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, x->method);
    }
    x->attempts++;
    c->attempts++;
    if (x->first_attempt_ms == 0)
        x->first_attempt_ms = clock_monotonic_ms();
    return curl_multi_add_handle(c->multi, e) == CURLM_OK;
}

/* A finished attempt: true when x is done, false when it waits for a retry. */
static bool attempt_finished(http_client *c, http_exchange *x, CURLcode result)
{
    curl_multi_remove_handle(c->multi, x->easy);
    bool transport_failed = result != CURLE_OK;
    if (transport_failed) {
        snprintf(x->error, sizeof(x->error), "%s", curl_easy_strerror(result));
    } else {
        curl_off_t length = -1;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
        curl_easy_getinfo(x->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
        x->content_length = length;
    }
    if (answer_classify(x->status) != ANSWER_TRANSIENT)
        return true;
    uint64_t now = clock_monotonic_ms();
    int64_t delay = retry_delay_ms(&c->policy, x->attempts, now - x->first_attempt_ms,
                                   x->retry_after_ms);
    if (delay < 0) {
        x->gave_up = true;
        return true;
    }
    x->next_attempt_ms = now + (uint64_t)delay;
    return false;
}

/* A small set of exchanges: those parked for a retry, those in flight. */
typedef struct exchange_list {
    http_exchange **items;
    size_t count, cap;
} exchange_list;

static void list_remove(exchange_list *l, const http_exchange *x)
{
    for (size_t i = 0; i < l->count; i++)
        if (l->items[i] == x) {
            l->items[i] = l->items[--l->count];
            return;
        }
}

static bool list_push(exchange_list *w, http_exchange *x)
{
    if (w->count == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 8;
        http_exchange **grown = realloc(w->items, cap * sizeof(*grown));
        if (!grown)
            return false;
        w->items = grown;
        w->cap = cap;
    }
    w->items[w->count++] = x;
    return true;
}

/* Starts x, or reports it finished at once when it cannot even start. */
static void launch(http_client *c, const http_feed *feed, exchange_list *flight,
                   http_exchange *x)
{
    if (start_attempt(c, x) && list_push(flight, x))
        return;
    curl_multi_remove_handle(c->multi, x->easy);
    x->gave_up = true;
    feed->finished(feed->context, x);
}

bool http_client_run_feed(http_client *c, const http_feed *feed)
{
    exchange_list waiting = {0}; /* parked until their retry time */
    exchange_list flight = {0};  /* handed to curl */
    bool cancelled = false;
    for (;;) {
        if (c->cancel && *c->cancel) {
            cancelled = true;
            break;
        }
        uint64_t now = clock_monotonic_ms();
        /* Retries whose time has come go first, then new work. */
        for (size_t i = 0; i < waiting.count && flight.count < feed->max_in_flight;) {
            http_exchange *x = waiting.items[i];
            if (x->next_attempt_ms > now) {
                i++;
                continue;
            }
            list_remove(&waiting, x);
            launch(c, feed, &flight, x);
        }
        while (flight.count + waiting.count < feed->max_in_flight) {
            http_exchange *x = feed->next(feed->context);
            if (!x)
                break;
            launch(c, feed, &flight, x);
        }
        if (flight.count == 0 && waiting.count == 0) {
            /* finished() may have produced new work: ask once more. */
            http_exchange *x = feed->next(feed->context);
            if (!x)
                break;
            launch(c, feed, &flight, x);
            continue;
        }
        int running = 0;
        curl_multi_perform(c->multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(c->multi, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            http_exchange *x = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
            CURLcode result = msg->data.result;
            list_remove(&flight, x);
            if (attempt_finished(c, x, result))
                feed->finished(feed->context, x);
            else if (!list_push(&waiting, x)) {
                x->gave_up = true;
                feed->finished(feed->context, x);
            }
        }
        int timeout = MAX_POLL_MS;
        now = clock_monotonic_ms();
        for (size_t i = 0; i < waiting.count; i++) {
            uint64_t at = waiting.items[i]->next_attempt_ms;
            int wait = at > now ? (int)(at - now) : 0;
            if (wait < timeout)
                timeout = wait;
        }
        if (flight.count > 0)
            curl_multi_poll(c->multi, NULL, 0, timeout, NULL);
        else if (timeout > 0)
            clock_sleep_ms((uint64_t)timeout, c->cancel);
    }
    /* Cancelled: what is in flight or waiting ends here, given up, and goes
     * back to its owner like any finished request. */
    for (size_t i = 0; i < flight.count; i++)
        curl_multi_remove_handle(c->multi, flight.items[i]->easy);
    exchange_list *lists[] = {&flight, &waiting};
    for (size_t l = 0; l < 2; l++)
        for (size_t i = 0; i < lists[l]->count; i++) {
            http_exchange *x = lists[l]->items[i];
            x->gave_up = true;
            snprintf(x->error, sizeof(x->error), "cancelled");
            feed->finished(feed->context, x);
        }
    free(waiting.items);
    free(flight.items);
    return !cancelled;
}

typedef struct single_feed {
    http_exchange *x;
    bool given;
} single_feed;

static http_exchange *single_next(void *context)
{
    single_feed *f = context;
    if (f->given)
        return NULL;
    f->given = true;
    return f->x;
}

static void single_finished(void *context, http_exchange *x)
{
    (void)context;
    (void)x;
}

bool http_client_run_one(http_client *c, http_exchange *x)
{
    single_feed state = {x, false};
    http_feed feed = {single_next, single_finished, &state, 1};
    return http_client_run_feed(c, &feed);
}
