/* In-cluster Kubernetes API access; see kube_client.h.
 *
 * The token is a projected file the kubelet replaces before it expires
 * (atomically, through a symlink swap): it is read again when the file is
 * another one or a minute has passed, as client-go does. */
#include "kube_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clock.h"
#include "http_client.h"
#include "json_reader.h"
#include "log.h"
#include "redact.h"
#include "url.h"

#define TOKEN_REREAD_MS 60000
/* The budget of one request: attempts of at most 2 s (connection and TLS
 * included) for at most 4 s, so the two a SIGTERM asks fit its 10 s. */
#define ATTEMPT_TIMEOUT_MS 2000
#define REQUEST_BUDGET_MS 4000
/* After a request got no answer, what can wait is not sent for this long:
 * an unreachable API server would otherwise cost a budget per Event. */
#define QUIET_AFTER_NO_ANSWER_MS 60000
#define TOKEN_LIMIT 16384
#define ANSWER_LIMIT (4 * 1024 * 1024)

struct kube_client {
    char base_url[300];
    char token_path[1024];
    char ca_path[1024];
    char *token;
    struct stat token_seen;
    uint64_t token_read_ms;
    http_client *http;
    const char *without_access; /* what the program does without it, for the warning */
    bool said_unavailable;      /* the one warning was given */
    uint64_t unanswered_at_ms;  /* when a request last got no answer (0: never) */
};

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* The current token, read again when the file changed or a minute passed;
 * NULL (with why) when there is none. */
static const char *current_token(kube_client *k, char *why, size_t why_size)
{
    struct stat now;
    uint64_t clock = clock_monotonic_ms();
    bool changed = stat(k->token_path, &now) != 0 || !same_file(&now, &k->token_seen);
    if (k->token && !changed && clock - k->token_read_ms < TOKEN_REREAD_MS)
        return k->token;
    FILE *f = fopen(k->token_path, "r");
    if (!f) {
        snprintf(why, why_size, "no service account token at %.200s", k->token_path);
        return NULL;
    }
    char *text = calloc(1, TOKEN_LIMIT + 1);
    size_t n = text ? fread(text, 1, TOKEN_LIMIT, f) : 0;
    fclose(f);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '))
        text[--n] = '\0';
    if (n == 0) {
        free(text);
        snprintf(why, why_size, "the service account token at %.200s is empty", k->token_path);
        return NULL;
    }
    redact_register_secret(text);
    free(k->token);
    k->token = text;
    k->token_seen = now;
    k->token_read_ms = clock;
    return k->token;
}

kube_client *kube_client_in_cluster(const char *serviceaccount_dir, const char *without_access)
{
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    if (!host || !*host)
        return NULL;
    kube_client *k = calloc(1, sizeof(*k));
    if (!k)
        return NULL;
    k->without_access = without_access;
    const char *dir = serviceaccount_dir && *serviceaccount_dir ? serviceaccount_dir
                                                                : KUBE_SERVICEACCOUNT_DIR;
    bool ipv6 = strchr(host, ':') != NULL;
    snprintf(k->base_url, sizeof(k->base_url), "https://%s%s%s:%s", ipv6 ? "[" : "", host,
             ipv6 ? "]" : "", port && *port ? port : "443");
    snprintf(k->token_path, sizeof(k->token_path), "%s/token", dir);
    snprintf(k->ca_path, sizeof(k->ca_path), "%s/ca.crt", dir);
    /* A few quick attempts: an answer that takes longer is one the run does without. */
    retry_policy quick = {.max_attempts = 3, .base_delay_ms = 200, .max_delay_ms = 1000,
                          .budget_ms = REQUEST_BUDGET_MS};
    k->http = http_client_new(&quick, NULL);
    if (!k->http) {
        free(k);
        return NULL;
    }
    return k;
}

void kube_client_free(kube_client *k)
{
    if (!k)
        return;
    http_client_free(k->http);
    free(k->token);
    free(k);
}

void kube_answer_init(kube_answer *a)
{
    kube_answer_init_limited(a, ANSWER_LIMIT);
}

void kube_answer_init_limited(kube_answer *a, size_t limit)
{
    memset(a, 0, sizeof(*a));
    buffer_init(&a->body, limit);
}

void kube_answer_free(kube_answer *a)
{
    buffer_free(&a->body);
}

void kube_path_append(buffer *path, const char *segment)
{
    url_encode_into(path, segment, false);
}

/* The message of a Status answer, for the one warning a refusal gets. */
static void read_status_message(kube_answer *a)
{
    json_document doc;
    char error[64];
    if (!json_document_parse(&doc, a->body.data, a->body.len, JSON_TOKENS_FOR_A_VALUE, error,
                             sizeof(error)))
        return;
    char *message = json_string_dup(&doc, json_object_get(&doc, 0, "message"));
    if (message)
        snprintf(a->error, sizeof(a->error), "%s", message);
    free(message);
    json_document_free(&doc);
}

static void say_unavailable_once(kube_client *k, const kube_answer *a)
{
    if (k->said_unavailable)
        return;
    k->said_unavailable = true;
    char reason[320];
    if (a->status)
        snprintf(reason, sizeof(reason), "HTTP %ld: %s", a->status, a->error);
    else
        snprintf(reason, sizeof(reason), "%s", a->error);
    char message[400];
    snprintf(message, sizeof(message), "kubernetes API not available: %s", k->without_access);
    log_warn(message, LOG_STR("reason", reason));
}

bool kube_client_said_unavailable(const kube_client *k)
{
    return k && k->said_unavailable;
}

bool kube_client_worth_asking(const kube_client *k)
{
    return k && (!k->unanswered_at_ms ||
                 clock_monotonic_ms() - k->unanswered_at_ms >= QUIET_AFTER_NO_ANSWER_MS);
}

static void send_request(kube_client *k, const char *method, const char *path,
                         const char *accept, const char *content_type, const buffer *body,
                         kube_answer *a)
{
    buffer_reset(&a->body);
    a->status = 0;
    a->error[0] = '\0';
    const char *token = current_token(k, a->error, sizeof(a->error));
    if (!token) {
        say_unavailable_once(k, a);
        return;
    }
    char url[2048];
    snprintf(url, sizeof(url), "%s%s", k->base_url, path);
    http_exchange x;
    http_exchange_init(&x, method, url);
    x.ca_file = k->ca_path;
    x.attempt_timeout_ms = ATTEMPT_TIMEOUT_MS;
    char authorization[TOKEN_LIMIT + 16];
    snprintf(authorization, sizeof(authorization), "Bearer %s", token);
    http_exchange_set_header(&x, "Authorization", authorization);
    http_exchange_set_header(&x, "Accept", accept);
    http_exchange_set_header(&x, "User-Agent", "batch-offloader/" BATCH_OFFLOAD_VERSION);
    if (body) {
        http_exchange_set_header(&x, "Content-Type", content_type);
        buffer_append(&x.body, body->data, body->len);
    }
    http_client_run_one(k->http, &x);
    a->status = x.status;
    buffer_append(&a->body, x.response.data, x.response.len);
    if (x.status == 0) {
        snprintf(a->error, sizeof(a->error), "%s", x.error[0] ? x.error : "no answer");
        k->unanswered_at_ms = clock_monotonic_ms();
    } else if (x.status >= 400)
        read_status_message(a);
    if (x.status == 0 || x.status == 401 || x.status == 403)
        say_unavailable_once(k, a);
    http_exchange_free(&x);
}

void kube_request(kube_client *k, const char *method, const char *path, const char *content_type,
                  const buffer *body, kube_answer *a)
{
    send_request(k, method, path, "application/json", content_type, body, a);
}

void kube_request_accepting(kube_client *k, const char *method, const char *path,
                            const char *accept, kube_answer *a)
{
    send_request(k, method, path, accept, NULL, NULL, a);
}
