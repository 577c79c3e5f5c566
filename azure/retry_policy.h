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

/* What an Azure answer means: the one reading of it that the retry loop and
 * every caller share ("is this an outage or a refusal?"). */
typedef enum {
    ANSWER_SUCCESS,   /* 2xx */
    ANSWER_TRANSIENT, /* no answer (status 0: refused, reset, timed out), 408, 429, or a 5xx
                       * but 501 and 505: worth another attempt; after the last one, an outage */
    ANSWER_REFUSED,   /* any other answer (4xx, 501, 505): the service said no, and would again */
} answer_kind;

answer_kind answer_classify(long status);

/* The wait before attempt number `attempt` (1 = the first retry), or -1 to
 * give up. retry_after_ms < 0 when the server gave none; a Retry-After
 * shorter than base_delay_ms is waited as base_delay_ms. */
int64_t retry_delay_ms(const retry_policy *policy, int attempt, uint64_t elapsed_ms,
                       int64_t retry_after_ms);

/* Reads Retry-After: delta-seconds or an HTTP date; -1 when unusable. */
int64_t retry_after_parse(const char *value, int64_t now_seconds);

#endif
