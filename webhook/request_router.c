/* Routing and the /mutate handler; see request_router.h. */
#include "request_router.h"

#include <stdio.h>
#include <string.h>

#include "admission_review.h"
#include "clock.h"
#include "job_mutation.h"
#include "json_writer.h"
#include "log.h"
#include "metrics.h"

static void respond_text(http_response *r, int status, const char *text)
{
    r->status = status;
    r->content_type = "text/plain; charset=utf-8";
    buffer_append_str(&r->body, text);
}

static bool method_is(const http_request *req, const char *method)
{
    /* Methods are case-sensitive (RFC 9110 9.1). */
    return req->head->method_len == strlen(method) &&
           memcmp(req->head->method, method, req->head->method_len) == 0;
}

/* "application/json", optionally with parameters such as "; charset=utf-8". */
static bool content_type_is_json(const http_request *req)
{
    const http_header *h = http_find_header(req->head, "Content-Type", NULL);
    if (!h)
        return false;
    size_t n = 0;
    while (n < h->value_len && h->value[n] != ';' && h->value[n] != ' ' && h->value[n] != '\t')
        n++;
    return http_token_equals(h->value, n, "application/json");
}

static void log_admission(const admission_request *ar, const char *outcome, const char *detail,
                          size_t warnings, double seconds)
{
    log_info("admission", LOG_STR("uid", ar->uid),
             LOG_STR("namespace", ar->namespace_name ? ar->namespace_name : ""),
             LOG_STR("name", ar->name ? ar->name : ""), LOG_STR("operation", ar->operation),
             LOG_STR("kind", ar->is_job ? "Job" : "other"),
             LOG_STR("dry_run", ar->dry_run ? "true" : "false"), LOG_STR("outcome", outcome),
             LOG_STR("detail", detail), LOG_NUM("warnings", warnings),
             LOG_NUM("duration_ms", seconds * 1000.0));
}

static void handle_mutate(webhook_context *ctx, const http_request *req, http_response *res)
{
    if (!method_is(req, "POST")) {
        res->allow = "POST";
        http_response_error(res, 405, "/mutate accepts only POST");
        return;
    }
    if (!content_type_is_json(req)) {
        http_response_error(res, 415, "an AdmissionReview must be sent as application/json");
        return;
    }
    admission_request ar;
    char error[256];
    if (!admission_request_decode(&ar, req->body, req->body_len, error, sizeof(error))) {
        metrics_record_admission(ADMISSION_INVALID,
                                 (double)(clock_monotonic_ns() - req->started_ns) / 1e9);
        log_warn("bad admission request", LOG_STR("peer", req->peer), LOG_STR("error", error));
        http_response_error(res, 400, error);
        return;
    }

    job_mutation m;
    job_mutation_init(&m);
    admission_outcome outcome = ADMISSION_ALLOWED;
    const char *detail = "not a Job CREATE";
    admission_response answer = {.allowed = true};
    /* Dry-run requests get the same answer: the webhook has no side effects. */
    if (ar.is_job && ar.object >= 0 && strcmp(ar.operation, "CREATE") == 0) {
        job_mutate(&m, &ar.doc, ar.object, ar.namespace_name, ctx->platform);
        switch (m.outcome) {
        case MUTATION_UNCHANGED:
            detail = m.reason;
            break;
        case MUTATION_PATCHED:
            outcome = ADMISSION_MUTATED;
            detail = "rewritten as an offloader pod";
            answer.patch = m.patch.data;
            answer.patch_len = m.patch.len;
            break;
        case MUTATION_DENIED:
            outcome = ADMISSION_DENIED;
            detail = buffer_cstr(&m.message);
            answer.allowed = false;
            answer.status_code = m.status_code;
            answer.message = buffer_cstr(&m.message);
            break;
        }
        answer.warnings = (const char *const *)m.warnings.items;
        answer.warning_count = m.warnings.count;
    }
    res->status = 200;
    res->content_type = "application/json";
    admission_response_encode(&res->body, &ar, &answer);
    double seconds = (double)(clock_monotonic_ns() - req->started_ns) / 1e9;
    if (!buffer_ok(&res->body)) {
        outcome = ADMISSION_INVALID;
        http_response_error(res, 500, "the admission response could not be built");
    }
    metrics_record_admission(outcome, seconds);
    log_admission(&ar, admission_outcome_name(outcome), detail, m.warnings.count, seconds);
    job_mutation_free(&m);
    admission_request_free(&ar);
}

static void handle_probe(webhook_context *ctx, const http_request *req, http_response *res,
                         bool readiness)
{
    if (!method_is(req, "GET") && !method_is(req, "HEAD")) {
        res->allow = "GET, HEAD";
        http_response_error(res, 405, "probes accept only GET and HEAD");
        return;
    }
    if (readiness && !atomic_load(&ctx->ready))
        respond_text(res, 503, "shutting down\n");
    else
        respond_text(res, 200, "ok\n");
}

static void handle_metrics(webhook_context *ctx, const http_request *req, http_response *res)
{
    if (!method_is(req, "GET") && !method_is(req, "HEAD")) {
        res->allow = "GET, HEAD";
        http_response_error(res, 405, "/metrics accepts only GET and HEAD");
        return;
    }
    res->status = 200;
    res->content_type = "text/plain; version=0.0.4; charset=utf-8";
    metrics_render(&res->body, BATCH_OFFLOAD_VERSION, ctx->tls_library);
}

/* The path part of the request target, without the query. */
static bool path_is(const http_request *req, const char *path)
{
    size_t n = 0;
    while (n < req->head->target_len && req->head->target[n] != '?')
        n++;
    return n == strlen(path) && memcmp(req->head->target, path, n) == 0;
}

void webhook_route(webhook_context *ctx, const http_request *req, http_response *res)
{
    if (path_is(req, "/mutate"))
        handle_mutate(ctx, req, res);
    else if (path_is(req, "/healthz"))
        handle_probe(ctx, req, res, false);
    else if (path_is(req, "/readyz"))
        handle_probe(ctx, req, res, true);
    else if (path_is(req, "/metrics"))
        handle_metrics(ctx, req, res);
    else
        http_response_error(res, 404, "no such path: the webhook serves /mutate, /healthz, "
                                      "/readyz and /metrics");
}
