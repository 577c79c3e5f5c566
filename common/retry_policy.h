/* When and how long to wait before trying a request again: exponential
 * backoff with full jitter, honouring Retry-After, bounded by a number of
 * attempts and by a total time budget. */
#ifndef RETRY_POLICY_H
#define RETRY_POLICY_H

#include <stdbool.h>
#include <stdint.h>

typedef struct retry_policy {
    int max_attempts;     /* including the first; 0: only the budget bounds them */
    uint64_t base_delay_ms;
    uint64_t max_delay_ms;
    uint64_t budget_ms;   /* no new attempt after this long since the first */
} retry_policy;

/* What a finished attempt says about trying again. */
typedef enum {
    ATTEMPT_SUCCEEDED, /* a final answer, successful or not: do not retry */
    ATTEMPT_TRANSIENT, /* 408, 429, 5xx but 501/505, or a transport failure */
} attempt_outcome;

/* transport_failed: no HTTP answer (connection refused or reset, timeout). */
attempt_outcome retry_classify(long status, bool transport_failed);

/* The wait before attempt number `attempt` (1 = the first retry), or -1 to
 * give up. retry_after_ms < 0 when the server gave none; a Retry-After
 * shorter than base_delay_ms is waited as base_delay_ms. */
int64_t retry_delay_ms(const retry_policy *policy, int attempt, uint64_t elapsed_ms,
                       int64_t retry_after_ms);

/* Reads Retry-After: delta-seconds or an HTTP date; -1 when unusable. */
int64_t retry_after_parse(const char *value, int64_t now_seconds);

#endif
