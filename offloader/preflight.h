/* Before a Batch job is created in an account: can the work run where it
 * would go? A named pool must exist there, not be going away, and run
 * containers; an auto pool's image must be one Batch supports there, with
 * its node agent. What the data plane cannot tell before a job exists (a VM
 * size the region does not offer: only the management plane lists sizes)
 * is reported while the tasks wait (pool_watch.h).
 *
 * Only a new job is checked: a replacement pod re-attaches to its job
 * whatever state its pool is in (resizing, showing old resize errors), and
 * follows it; a pool that is gone is seen there too. */
#ifndef PREFLIGHT_H
#define PREFLIGHT_H

#include <stdbool.h>
#include <stddef.h>

#include "batch_client.h"
#include "buffer.h"
#include "job_plan.h"

typedef enum {
    PREFLIGHT_PASSED,
    PREFLIGHT_REFUSED,     /* the work cannot run as configured: exit 2, *why says why */
    PREFLIGHT_UNAVAILABLE, /* Batch did not answer: exit 3 (or another account) */
    PREFLIGHT_CANCELLED,   /* a stop was requested */
} preflight_outcome;

/* Checks the plan's pool against b's account; why gets one line for the log and the Event. */
preflight_outcome preflight_check(batch_client *b, const job_plan *plan, buffer *why);

/* The decisions, pure, for tests. found: Pools_GetPool answered 200 (404: false). */
bool preflight_pool_usable(const char *pool_id, const azure_account *account, bool found,
                           const batch_pool_info *pool, buffer *why);

typedef enum { IMAGE_SUPPORTED, IMAGE_NOT_SUPPORTED, IMAGE_WRONG_NODE_AGENT } image_verdict;
/* pool_image is publisher:offer:sku:version (the version is not compared: Batch lists
 * images without one); names compare ignoring case, as Batch does. warnings gets what
 * does not stop the run (no DockerCompatible capability, support ending). */
image_verdict preflight_judge_image(const supported_image *images, size_t count,
                                    const char *pool_image, const char *node_agent,
                                    const char *account_name, buffer *why, buffer *warnings);

#endif
