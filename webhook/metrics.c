/* Webhook metrics; see metrics.h.
 *
 * The latency histogram uses the API server's own bucket bounds for
 * apiserver_admission_webhook_admission_duration_seconds (5 ms ... 25 s), so
 * the two can be read side by side, plus finer bounds below 5 ms where this
 * webhook actually answers. */
#include "metrics.h"

#include <stdatomic.h>
#include <stddef.h>

static const double latency_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                        0.005,  0.025,   0.1,    0.5,   1.0,
                                        2.5,    10.0,    25.0};
#define LATENCY_BUCKETS (sizeof(latency_bounds) / sizeof(latency_bounds[0]))

/* Status codes the server can send; anything else is counted as "other". */
static const int tracked_statuses[] = {100, 200, 400, 404, 405, 408, 411, 413,
                                       415, 431, 500, 501, 503, 505};
#define TRACKED_STATUSES (sizeof(tracked_statuses) / sizeof(tracked_statuses[0]))

static const char *const outcome_names[ADMISSION_OUTCOME_COUNT] = {"mutated", "allowed",
                                                                   "denied", "invalid"};

static struct {
    atomic_ulong admissions[ADMISSION_OUTCOME_COUNT];
    atomic_ulong latency_buckets[ADMISSION_OUTCOME_COUNT][LATENCY_BUCKETS];
    /* Sum in microseconds: an integer, so atomics suffice. */
    atomic_ullong latency_sum_us[ADMISSION_OUTCOME_COUNT];
    atomic_ulong responses[TRACKED_STATUSES + 1];
    atomic_ulong cert_reloads[2];
    atomic_ulong handshake_failures;
    atomic_long connections_open;
    atomic_ulong connections_accepted;
    atomic_ulong connections_rejected;
    atomic_ulong connections_reclaimed;
    _Atomic(const buffer_budget *) buffered;
} m;

const char *admission_outcome_name(admission_outcome outcome)
{
    return outcome_names[outcome];
}

void metrics_record_admission(admission_outcome outcome, double seconds)
{
    atomic_fetch_add_explicit(&m.admissions[outcome], 1, memory_order_relaxed);
    for (size_t i = 0; i < LATENCY_BUCKETS; i++)
        if (seconds <= latency_bounds[i]) {
            atomic_fetch_add_explicit(&m.latency_buckets[outcome][i], 1, memory_order_relaxed);
            break;
        }
    unsigned long long us = seconds > 0 ? (unsigned long long)(seconds * 1e6 + 0.5) : 0;
    atomic_fetch_add_explicit(&m.latency_sum_us[outcome], us, memory_order_relaxed);
}

void metrics_record_http_response(int status)
{
    size_t slot = TRACKED_STATUSES;
    for (size_t i = 0; i < TRACKED_STATUSES; i++)
        if (tracked_statuses[i] == status)
            slot = i;
    atomic_fetch_add_explicit(&m.responses[slot], 1, memory_order_relaxed);
}

void metrics_record_cert_reload(cert_reload_result result)
{
    atomic_fetch_add_explicit(&m.cert_reloads[result], 1, memory_order_relaxed);
}

void metrics_record_tls_handshake_failure(void)
{
    atomic_fetch_add_explicit(&m.handshake_failures, 1, memory_order_relaxed);
}

void metrics_connection_opened(void)
{
    atomic_fetch_add_explicit(&m.connections_open, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m.connections_accepted, 1, memory_order_relaxed);
}

void metrics_connection_closed(void)
{
    atomic_fetch_sub_explicit(&m.connections_open, 1, memory_order_relaxed);
}

void metrics_connection_rejected(void)
{
    atomic_fetch_add_explicit(&m.connections_rejected, 1, memory_order_relaxed);
}

void metrics_connection_reclaimed(void)
{
    atomic_fetch_add_explicit(&m.connections_reclaimed, 1, memory_order_relaxed);
}

void metrics_watch_buffered_bytes(const buffer_budget *budget)
{
    atomic_store(&m.buffered, budget);
}

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

static void render_histogram(buffer *out)
{
    const char *name = "batch_offload_webhook_admission_duration_seconds";
    buffer_appendf(out,
                   "# HELP %s Time from the first byte of an admission request to its answer.\n"
                   "# TYPE %s histogram\n",
                   name, name);
    for (int o = 0; o < ADMISSION_OUTCOME_COUNT; o++) {
        unsigned long cumulative = 0;
        for (size_t i = 0; i < LATENCY_BUCKETS; i++) {
            cumulative += LOAD(m.latency_buckets[o][i]);
            buffer_appendf(out, "%s_bucket{outcome=\"%s\",le=\"%g\"} %lu\n", name,
                           outcome_names[o], latency_bounds[i], cumulative);
        }
        unsigned long count = LOAD(m.admissions[o]);
        buffer_appendf(out, "%s_bucket{outcome=\"%s\",le=\"+Inf\"} %lu\n", name,
                       outcome_names[o], count);
        buffer_appendf(out, "%s_sum{outcome=\"%s\"} %.6f\n", name, outcome_names[o],
                       (double)LOAD(m.latency_sum_us[o]) / 1e6);
        buffer_appendf(out, "%s_count{outcome=\"%s\"} %lu\n", name, outcome_names[o], count);
    }
}

void metrics_render(buffer *out, const char *version, const char *tls_backend)
{
    buffer_appendf(out,
                   "# HELP batch_offload_webhook_build_info Version and TLS library.\n"
                   "# TYPE batch_offload_webhook_build_info gauge\n"
                   "batch_offload_webhook_build_info{version=\"%s\",tls=\"%s\"} 1\n",
                   version, tls_backend);
    buffer_append_str(out, "# HELP batch_offload_webhook_admission_requests_total Admission "
                           "reviews answered, by outcome.\n"
                           "# TYPE batch_offload_webhook_admission_requests_total counter\n");
    for (int o = 0; o < ADMISSION_OUTCOME_COUNT; o++)
        buffer_appendf(out,
                       "batch_offload_webhook_admission_requests_total{outcome=\"%s\"} %lu\n",
                       outcome_names[o], LOAD(m.admissions[o]));
    render_histogram(out);
    buffer_append_str(out, "# HELP batch_offload_webhook_http_responses_total HTTP responses "
                           "sent, by status code.\n"
                           "# TYPE batch_offload_webhook_http_responses_total counter\n");
    for (size_t i = 0; i <= TRACKED_STATUSES; i++) {
        unsigned long n = LOAD(m.responses[i]);
        if (i == TRACKED_STATUSES)
            buffer_appendf(out, "batch_offload_webhook_http_responses_total{code=\"other\"} %lu\n",
                           n);
        else
            buffer_appendf(out, "batch_offload_webhook_http_responses_total{code=\"%d\"} %lu\n",
                           tracked_statuses[i], n);
    }
    buffer_appendf(out,
                   "# HELP batch_offload_webhook_certificate_reloads_total Serving certificate "
                   "reloads, by result.\n"
                   "# TYPE batch_offload_webhook_certificate_reloads_total counter\n"
                   "batch_offload_webhook_certificate_reloads_total{result=\"success\"} %lu\n"
                   "batch_offload_webhook_certificate_reloads_total{result=\"failure\"} %lu\n",
                   LOAD(m.cert_reloads[CERT_RELOAD_SUCCESS]),
                   LOAD(m.cert_reloads[CERT_RELOAD_FAILURE]));
    buffer_appendf(out,
                   "# HELP batch_offload_webhook_tls_handshake_failures_total TLS handshakes "
                   "that failed.\n"
                   "# TYPE batch_offload_webhook_tls_handshake_failures_total counter\n"
                   "batch_offload_webhook_tls_handshake_failures_total %lu\n",
                   LOAD(m.handshake_failures));
    buffer_appendf(out,
                   "# HELP batch_offload_webhook_connections Open client connections.\n"
                   "# TYPE batch_offload_webhook_connections gauge\n"
                   "batch_offload_webhook_connections %ld\n"
                   "# HELP batch_offload_webhook_connections_accepted_total Connections "
                   "accepted.\n"
                   "# TYPE batch_offload_webhook_connections_accepted_total counter\n"
                   "batch_offload_webhook_connections_accepted_total %lu\n"
                   "# HELP batch_offload_webhook_connections_rejected_total Connections closed "
                   "at once because the connection limit was reached and none was idle.\n"
                   "# TYPE batch_offload_webhook_connections_rejected_total counter\n"
                   "batch_offload_webhook_connections_rejected_total %lu\n"
                   "# HELP batch_offload_webhook_connections_reclaimed_total Idle keep-alive "
                   "connections closed at the connection limit to admit new ones.\n"
                   "# TYPE batch_offload_webhook_connections_reclaimed_total counter\n"
                   "batch_offload_webhook_connections_reclaimed_total %lu\n",
                   LOAD(m.connections_open), LOAD(m.connections_accepted),
                   LOAD(m.connections_rejected), LOAD(m.connections_reclaimed));
    const buffer_budget *budget = atomic_load(&m.buffered);
    if (budget)
        buffer_appendf(out,
                       "# HELP batch_offload_webhook_buffered_bytes Request and answer bytes "
                       "held by all connections.\n"
                       "# TYPE batch_offload_webhook_buffered_bytes gauge\n"
                       "batch_offload_webhook_buffered_bytes %zu\n"
                       "# HELP batch_offload_webhook_buffered_bytes_limit --max-buffered-bytes.\n"
                       "# TYPE batch_offload_webhook_buffered_bytes_limit gauge\n"
                       "batch_offload_webhook_buffered_bytes_limit %zu\n",
                       atomic_load_explicit(&budget->used, memory_order_relaxed), budget->limit);
}
