/* What a pool's resize errors mean for tasks that wait on it, and what to
 * do about them: pure decisions, from the pool as Batch shows it and the
 * platform's settings, so each is tested on its own (tests/unit).
 *
 * Resize error codes: Microsoft.Azure.Batch PoolResizeErrorCodes and the
 * Batch pool resizing failure article (docs/azure-facts.md section 7). */
#ifndef POOL_SHORTAGE_H
#define POOL_SHORTAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "batch_client.h"

typedef enum {
    SHORTAGE_NONE,                    /* no resize error */
    SHORTAGE_SPOT_ACCOUNT_QUOTA,      /* the Batch account's Spot vCPU quota (Batch-managed) */
    SHORTAGE_SPOT_SUBSCRIPTION_QUOTA, /* the subscription's regional Spot vCPUs (user subscription) */
    SHORTAGE_SPOT_CAPACITY,           /* Azure has no Spot capacity for the size now */
    SHORTAGE_SPOT_OTHER,              /* Spot nodes refused for another reason */
    SHORTAGE_VM_SIZE,                 /* the size is not offered or not usable: never fixes itself */
    SHORTAGE_OTHER,                   /* anything else, e.g. the dedicated core quota */
} pool_shortage;

/* What keeps the pool from its nodes. wants_spot: the pool's nodes are Spot
 * ones (an auto pool of priority spot not switched to dedicated); a Spot
 * shortage is one where it has none of them. */
pool_shortage pool_shortage_classify(const batch_pool_info *pool, bool wants_spot);
bool pool_shortage_is_spot(pool_shortage shortage);
/* In words a platform team can act on: why, and what to do. */
const char *pool_shortage_cause(pool_shortage shortage);
const char *pool_shortage_remedy(pool_shortage shortage);

/* BATCH_OFFLOAD_SPOT_FALLBACK: keep waiting for Spot nodes, or give the pool
 * dedicated ones now. Pure: mode "wait" always waits; "dedicated" switches
 * once Spot nodes have been missing for fallback_seconds (since short_since_ms,
 * both on the monotonic clock). *wait_left_ms says how long until it would. */
typedef enum { SPOT_KEEP_WAITING, SPOT_SWITCH_TO_DEDICATED } spot_decision;
spot_decision spot_fallback_decide(const char *mode, long fallback_seconds,
                                   uint64_t short_since_ms, uint64_t now_ms,
                                   uint64_t *wait_left_ms);

#endif
