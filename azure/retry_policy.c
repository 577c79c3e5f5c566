/* Retry policy; see retry_policy.h. Full jitter (a random wait between 0 and
 * the exponential cap) spreads many clients' retries apart. A server's
 * Retry-After is followed as given: asking earlier only earns another 429,
 * and waiting for a later backoff step only loses time (a throttled 429
 * storm with "Retry-After: 1" would otherwise wait up to max_delay_ms).
 * Only "come back at once" is stretched to base_delay_ms: a server that
 * keeps saying it must not be answered with a request loop. */
#include "retry_policy.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tls.h"

answer_kind answer_classify(long status)
{
    if (status >= 200 && status < 300)
        return ANSWER_SUCCESS;
    if (status == 0 || status == 408 || status == 429 ||
        (status >= 500 && status != 501 && status != 505))
        return ANSWER_TRANSIENT;
    return ANSWER_REFUSED;
}

static uint64_t random_below(uint64_t bound)
{
    uint64_t r = 0;
    if (bound == 0)
        return 0;
    if (!crypto_random_bytes(&r, sizeof(r)))
        r = (uint64_t)rand();
    return r % bound;
}

int64_t retry_delay_ms(const retry_policy *policy, int attempt, uint64_t elapsed_ms,
                       int64_t retry_after_ms)
{
    if ((policy->max_attempts > 0 && attempt >= policy->max_attempts) ||
        elapsed_ms >= policy->budget_ms)
        return -1;
    uint64_t delay;
    if (retry_after_ms >= 0) {
        if ((uint64_t)retry_after_ms < policy->base_delay_ms)
            retry_after_ms = (int64_t)policy->base_delay_ms;
        /* The server said when: come back then, not at some later backoff
         * step, spread by up to a tenth so clients told alike do not return
         * in the same instant. */
        delay = (uint64_t)retry_after_ms + random_below((uint64_t)retry_after_ms / 10 + 1);
        return elapsed_ms + delay > policy->budget_ms ? -1 : (int64_t)delay;
    }
    uint64_t cap = policy->base_delay_ms;
    for (int i = 1; i < attempt && cap < policy->max_delay_ms; i++)
        cap *= 2;
    if (cap > policy->max_delay_ms)
        cap = policy->max_delay_ms;
    delay = random_below(cap + 1);
    if (elapsed_ms + delay > policy->budget_ms)
        return -1; /* the answer would come after the budget anyway */
    return (int64_t)delay;
}

int64_t retry_after_parse(const char *value, int64_t now_seconds)
{
    if (!value || !*value)
        return -1;
    char *end;
    long seconds = strtol(value, &end, 10);
    if (end != value && *end == '\0')
        return seconds >= 0 && seconds <= 3600 ? (int64_t)seconds * 1000 : -1;
    struct tm when;
    memset(&when, 0, sizeof(when));
    const char *rest = strptime(value, "%a, %d %b %Y %H:%M:%S GMT", &when);
    if (!rest || *rest)
        return -1;
    int64_t at = (int64_t)timegm(&when);
    int64_t wait = at - now_seconds;
    if (wait < 0)
        wait = 0;
    return wait <= 3600 ? wait * 1000 : -1;
}
