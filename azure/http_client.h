/* HTTP for the offloader, over libcurl: requests run concurrently over
 * reused connections (one curl multi handle), each retried per the retry
 * policy and signed afresh before every attempt, all cancellable. Callers
 * feed requests one at a time as slots free up, so a 10,000-task submission
 * never holds more than a few request bodies in memory. */
#ifndef HTTP_CLIENT_H
#define HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buffer.h"
#include "retry_policy.h"
#include "signed_request.h"

typedef struct http_exchange http_exchange;
/* Called before every attempt: sets the date and Authorization headers. */
typedef bool (*http_prepare_fn)(http_exchange *x, void *context);

struct http_exchange {
    /* the request */
    const char *method;
    char *url; /* percent-encoded */
    buffer body;
    request_header *headers; /* owned strings, as many as set */
    size_t header_count;
    size_t header_capacity;
    bool header_failed; /* a header could not be kept: the exchange fails */
    const char *ca_file; /* trust this CA bundle (NULL: the system's, or $BATCH_OFFLOAD_CA_FILE) */
    /* Each attempt's limit, connection and TLS handshake included (0: 10 s to
     * connect, 60 s in all), for callers with a short budget of their own. */
    uint32_t attempt_timeout_ms;
    http_prepare_fn prepare;
    void *prepare_context;
    void *user; /* the caller's own data */
    /* the outcome */
    long status; /* 0: no HTTP answer */
    buffer response;
    int64_t content_length; /* of the answer, as its head said; -1 when it said none */
    char request_id[64];
    char error[256]; /* why there is no answer */
    int attempts;
    bool gave_up; /* transient failures until the policy said stop */
    /* private to http_client.c */
    void *easy;
    void *curl_headers;
    uint64_t first_attempt_ms;
    uint64_t next_attempt_ms;
    int64_t retry_after_ms;
};

/* method is a string literal; url is copied. */
void http_exchange_init(http_exchange *x, const char *method, const char *url);
void http_exchange_free(http_exchange *x);
/* Adds or replaces a header (case-insensitive name); false when out of
 * memory, and the exchange then fails rather than go without it. */
bool http_exchange_set_header(http_exchange *x, const char *name, const char *value);
const char *http_exchange_header(const http_exchange *x, const char *name);
/* The request as the signer sees it (valid until the headers change). */
void http_exchange_signed_view(const http_exchange *x, signed_request *view, buffer *path,
                               buffer *query);
/* What the finished exchange's answer means (retry_policy.h); after the
 * retries, ANSWER_TRANSIENT is an outage. */
answer_kind http_exchange_answer(const http_exchange *x);

typedef struct http_feed {
    /* The next request to start, or NULL when there is none right now. */
    http_exchange *(*next)(void *context);
    /* Once per request: answered (any status), given up, or cancelled. */
    void (*finished)(void *context, http_exchange *x);
    void *context;
    size_t max_in_flight;
} http_feed;

typedef struct http_client http_client;

/* Once per program, before any client (and once more, at its end). */
bool http_client_global_init(void);
void http_client_global_cleanup(void);
/* "libcurl/7.88.1 OpenSSL/3.0.19 ...", for --version. */
const char *http_client_library_version(void);

/* cancel: checked between steps; when it becomes non-zero, runs stop. */
http_client *http_client_new(const retry_policy *policy, volatile const int *cancel);
void http_client_free(http_client *client);
/* Runs until the feed is empty and nothing is in flight. False if cancelled. */
bool http_client_run_feed(http_client *client, const http_feed *feed);
/* Runs one request to its end. False if cancelled. */
bool http_client_run_one(http_client *client, http_exchange *x);
/* The flag the client watches, for waits outside requests. */
volatile const int *http_client_cancel_flag(const http_client *client);
/* Requests made so far (attempts included), for the benchmark's counts. */
uint64_t http_client_attempts(const http_client *client);

#endif
