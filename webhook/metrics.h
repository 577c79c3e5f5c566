/* The webhook's Prometheus metrics: lock-free counters updated by the worker
 * threads, rendered in the text exposition format on GET /metrics. */
#ifndef METRICS_H
#define METRICS_H

#include <stdbool.h>

#include "buffer.h"

typedef enum {
    ADMISSION_MUTATED,  /* annotated Job: allowed with a patch */
    ADMISSION_ALLOWED,  /* not ours, or already rewritten: allowed unchanged */
    ADMISSION_DENIED,   /* annotated Job with bad values: allowed=false */
    ADMISSION_INVALID,  /* not an AdmissionReview: HTTP 400 */
    ADMISSION_OUTCOME_COUNT,
} admission_outcome;

typedef enum {
    CERT_RELOAD_SUCCESS,
    CERT_RELOAD_FAILURE,
} cert_reload_result;

const char *admission_outcome_name(admission_outcome outcome);

void metrics_record_admission(admission_outcome outcome, double seconds);
void metrics_record_http_response(int status);
void metrics_record_cert_reload(cert_reload_result result);
void metrics_record_tls_handshake_failure(void);
void metrics_connection_opened(void);
void metrics_connection_closed(void);
void metrics_connection_rejected(void);  /* at the limit with no idle connection */
void metrics_connection_reclaimed(void); /* an idle one closed to admit a new one */
/* The budget whose use /metrics shows as buffered bytes (NULL: none). */
void metrics_watch_buffered_bytes(const buffer_budget *budget);

void metrics_render(buffer *out, const char *version, const char *tls_backend);

#endif
