/* What a pool's resize errors mean; see pool_shortage.h. */
#include "pool_shortage.h"

#include <string.h>

#define DEDICATED_WAY_OUT                                                                          \
    "or run on dedicated nodes (batch-offload.io/priority: dedicated, or the platform's "          \
    "spot fallback, BATCH_OFFLOAD_SPOT_FALLBACK=dedicated)"

static bool has_code(const batch_pool_info *pool, const char *code)
{
    for (size_t i = 0; i < pool->error_count; i++)
        if (strcmp(pool->errors[i].code, code) == 0)
            return true;
    return false;
}

/* AllocationFailed carries Compute's own refusal in its values: in a user-subscription
 * account a Spot quota refusal names the LowPriorityCores (Spot vCPU) quota. */
static bool names_a_quota(const pool_resize_error *e)
{
    return strcasestr(e->message, "quota") || strcasestr(e->values, "quota") ||
           strcasestr(e->values, "LowPriorityCores");
}

static bool allocation_failed_for_quota(const batch_pool_info *pool)
{
    for (size_t i = 0; i < pool->error_count; i++)
        if (strcmp(pool->errors[i].code, "AllocationFailed") == 0 &&
            names_a_quota(&pool->errors[i]))
            return true;
    return false;
}

pool_shortage pool_shortage_classify(const batch_pool_info *pool, bool wants_spot)
{
    if (pool->error_count == 0)
        return SHORTAGE_NONE;
    if (has_code(pool, "UnsupportedVMSize") || has_code(pool, "IncompatibleVMSize"))
        return SHORTAGE_VM_SIZE;
    if (!wants_spot || pool->current_spot > 0)
        return SHORTAGE_OTHER;
    /* The quotas first: a quota shortage also ends in a resize that timed out. */
    if (has_code(pool, "AccountLowPriorityCoreQuotaReached") ||
        has_code(pool, "AccountSpotCoreQuotaReached"))
        return SHORTAGE_SPOT_ACCOUNT_QUOTA;
    if (allocation_failed_for_quota(pool))
        return SHORTAGE_SPOT_SUBSCRIPTION_QUOTA;
    /* The service spells it AllocationTimedout (Azure/Batch#40), the SDK AllocationTimedOut. */
    if (has_code(pool, "AllocationTimedout") || has_code(pool, "AllocationTimedOut"))
        return SHORTAGE_SPOT_CAPACITY;
    if (has_code(pool, "AccountCoreQuotaReached"))
        return SHORTAGE_OTHER; /* the dedicated quota: Spot is not what is missing */
    return SHORTAGE_SPOT_OTHER;
}

bool pool_shortage_is_spot(pool_shortage shortage)
{
    return shortage == SHORTAGE_SPOT_ACCOUNT_QUOTA ||
           shortage == SHORTAGE_SPOT_SUBSCRIPTION_QUOTA || shortage == SHORTAGE_SPOT_CAPACITY ||
           shortage == SHORTAGE_SPOT_OTHER;
}

const char *pool_shortage_cause(pool_shortage shortage)
{
    switch (shortage) {
    case SHORTAGE_NONE:
        return "the pool shows no resize error";
    case SHORTAGE_SPOT_ACCOUNT_QUOTA:
        return "the Batch account's Spot vCPU quota is used up or zero (a Batch-managed account "
               "has a Spot quota of its own, zero on many new accounts)";
    case SHORTAGE_SPOT_SUBSCRIPTION_QUOTA:
        return "the subscription's regional Spot vCPU quota is used up (the Spot nodes of a "
               "user-subscription account count against the subscription's quotas)";
    case SHORTAGE_SPOT_CAPACITY:
        return "Azure has no Spot capacity for this VM size in the region now";
    case SHORTAGE_SPOT_OTHER:
        return "Batch could not allocate Spot nodes";
    case SHORTAGE_VM_SIZE:
        return "the VM size is not offered to this account in its region, or does not fit the "
               "pool's image";
    case SHORTAGE_OTHER:
        break;
    }
    return "the pool cannot get nodes";
}

const char *pool_shortage_remedy(pool_shortage shortage)
{
    switch (shortage) {
    case SHORTAGE_SPOT_ACCOUNT_QUOTA:
        return "ask for a Spot (low-priority) vCPU quota increase for the Batch account (Azure "
               "portal: the Batch account, Quotas), " DEDICATED_WAY_OUT;
    case SHORTAGE_SPOT_SUBSCRIPTION_QUOTA:
        return "ask for more Total Regional Spot vCPUs for the subscription in this region "
               "(Azure portal: Quotas, Compute), " DEDICATED_WAY_OUT;
    case SHORTAGE_SPOT_CAPACITY:
        return "wait (Batch keeps trying), pick another VM size (batch-offload.io/vm-size), "
               DEDICATED_WAY_OUT;
    case SHORTAGE_SPOT_OTHER:
        return "see Batch's message, " DEDICATED_WAY_OUT;
    case SHORTAGE_VM_SIZE:
        return "pick a size the account offers in its region (batch-offload.io/vm-size, or the "
               "platform's --default-vm-size; `az batch location list-skus` lists them)";
    case SHORTAGE_NONE:
    case SHORTAGE_OTHER:
        break;
    }
    return "see Batch's message: a dedicated core quota is raised on the Batch account's Quotas "
           "page";
}

spot_decision spot_fallback_decide(const char *mode, long fallback_seconds,
                                   uint64_t short_since_ms, uint64_t now_ms,
                                   uint64_t *wait_left_ms)
{
    *wait_left_ms = UINT64_MAX;
    if (!mode || strcmp(mode, "dedicated") != 0)
        return SPOT_KEEP_WAITING;
    uint64_t after_ms = fallback_seconds > 0 ? (uint64_t)fallback_seconds * 1000 : 0;
    uint64_t waited = now_ms > short_since_ms ? now_ms - short_since_ms : 0;
    if (waited >= after_ms) {
        *wait_left_ms = 0;
        return SPOT_SWITCH_TO_DEDICATED;
    }
    *wait_left_ms = after_ms - waited;
    return SPOT_KEEP_WAITING;
}
