/* What a waiting job's pool says, and what the run does; see pool_watch.h. */
#include "pool_watch.h"

#include <stdio.h>
#include <string.h>

#include "batch_requests.h"
#include "clock.h"
#include "log.h"
#include "pool_shortage.h"

void pool_watch_init(pool_watch *w, const job_plan *plan, job_reporter *reporter)
{
    memset(w, 0, sizeof(*w));
    w->plan = plan;
    w->reporter = reporter;
}

static bool is_auto_pool(const pool_watch *w)
{
    return w->plan->config->pool_id == NULL;
}

/* A reason for waiting, told once for as long as it stays the same. */
static bool is_new(pool_watch *w, const char *reason)
{
    if (strcmp(reason, w->said) == 0)
        return false;
    snprintf(w->said, sizeof(w->said), "%s", reason);
    return true;
}

static void tell_waiting(pool_watch *w, const char *reason)
{
    if (!reason[0] || !is_new(w, reason))
        return;
    log_warn("waiting for nodes", LOG_STR("reason", reason));
    job_reporter_event(w->reporter, EVENT_WARNING, "Waiting", reason);
}

/* ---- a pool that is gone ------------------------------------------------------ */

/* The pool answered 404 or is being deleted. An auto pool also goes when its job
 * ends, so the job is asked again: gone under a live job, nothing will run its tasks. */
static pool_verdict pool_gone(pool_watch *w, batch_client *b, const job_info *job, bool deleting,
                              char *why, size_t why_size)
{
    job_info again;
    batch_result r;
    if (!batch_get_job(b, &again, &r))
        return POOL_CANCELLED;
    if (!batch_result_ok(&r) || !batch_job_is_live(again.state) ||
        strcmp(again.pool_id, job->pool_id) != 0)
        return POOL_WAIT; /* the job ended (or cannot be read): the caller sees to it */
    snprintf(why, why_size,
             "%s %s of Batch account %s %s while the job's tasks waited: nothing can run them "
             "(Batch would hold them until a pool of that id exists again); the Batch job is "
             "ended. Create the pool again, or name another (batch-offload.io/pool), and run "
             "the Job again",
             is_auto_pool(w) ? "the auto pool" : "pool", job->pool_id, b->account->batch_name,
             deleting ? "is being deleted" : "was deleted");
    log_error(why, LOG_STR("job", w->plan->config->job_id));
    job_reporter_event(w->reporter, EVENT_WARNING, "PoolDeleted", why);
    return POOL_UNUSABLE;
}

/* ---- Spot ------------------------------------------------------------------------ */

/* The formula a Spot fallback gives the pool: the default one, on dedicated nodes. */
static void dedicated_formula(const pool_watch *w, buffer *out)
{
    batch_default_autoscale_formula(w->plan, true, out);
}

/* An earlier pod may have switched the pool already: its formula says so. */
static bool asks_for_dedicated(const pool_watch *w, const batch_pool_info *pool)
{
    if (!pool->autoscale_formula)
        return false;
    buffer formula;
    buffer_init(&formula, 0);
    dedicated_formula(w, &formula);
    bool same = strcmp(pool->autoscale_formula, buffer_cstr(&formula)) == 0;
    buffer_free(&formula);
    return same;
}

static void switch_to_dedicated(pool_watch *w, batch_client *b, const char *pool_id,
                                uint64_t short_for_ms)
{
    const offloader_config *c = w->plan->config;
    buffer formula;
    buffer_init(&formula, 0);
    dedicated_formula(w, &formula);
    batch_result r;
    bool finished = batch_enable_pool_autoscale(b, pool_id, buffer_cstr(&formula),
                                                AUTOSCALE_EVALUATION_INTERVAL, &r);
    buffer_free(&formula);
    if (!finished)
        return;
    if (!batch_result_ok(&r)) { /* tried again at the next check (30 s apart at least) */
        buffer text;
        buffer_init(&text, 0);
        batch_result_describe(&r, &text);
        log_warn("could not give the auto pool dedicated nodes: waiting on, trying again later",
                 LOG_STR("pool", pool_id), LOG_STR("reason", buffer_cstr(&text)));
        buffer_free(&text);
        return;
    }
    w->switched = true;
    w->spot_short_since = 0;
    char message[400];
    snprintf(message, sizeof(message),
             "no Spot nodes for %llu s: the auto pool %s now asks for up to %ld dedicated %s "
             "nodes instead (BATCH_OFFLOAD_SPOT_FALLBACK=dedicated), at the dedicated price",
             (unsigned long long)(short_for_ms / 1000), pool_id, c->max_nodes, c->vm_size);
    log_warn(message);
    job_reporter_event(w->reporter, EVENT_WARNING, "SpotFallback", message);
}

/* The cause, Batch's words, the remedy and what the run will do: one stable text,
 * so that it is told once however often it is seen. */
static void tell_spot_shortage(pool_watch *w, pool_shortage shortage, const char *pool_id,
                               const batch_pool_info *pool)
{
    const offloader_config *c = w->plan->config;
    buffer errors;
    buffer_init(&errors, 0);
    batch_pool_describe_errors(pool, &errors);
    char plan[200];
    if (strcmp(c->spot_fallback, "dedicated") == 0)
        snprintf(plan, sizeof(plan), "dedicated nodes after %ld s without Spot nodes "
                 "(BATCH_OFFLOAD_SPOT_FALLBACK=dedicated)", c->spot_fallback_seconds);
    else
        snprintf(plan, sizeof(plan), "waiting for Spot nodes (BATCH_OFFLOAD_SPOT_FALLBACK=wait)");
    char said_by_batch[320];
    snprintf(said_by_batch, sizeof(said_by_batch), "%s", buffer_cstr(&errors));
    buffer_free(&errors);
    char message[1024];
    snprintf(message, sizeof(message), "the auto pool %s gets no Spot nodes: %s. Batch says: "
             "%s. Remedy: %s. Meanwhile: %s",
             pool_id, pool_shortage_cause(shortage), said_by_batch,
             pool_shortage_remedy(shortage), plan);
    if (!is_new(w, message))
        return;
    log_warn("waiting for nodes: Spot nodes cannot be allocated", LOG_STR("pool", pool_id),
             LOG_STR("vm_size", c->vm_size), LOG_STR("cause", pool_shortage_cause(shortage)),
             LOG_STR("batch_says", said_by_batch), LOG_STR("remedy", pool_shortage_remedy(shortage)),
             LOG_STR("meanwhile", plan));
    job_reporter_event(w->reporter, EVENT_WARNING, "SpotUnavailable", message);
}

static void watch_spot(pool_watch *w, batch_client *b, pool_shortage shortage,
                       const char *pool_id, const batch_pool_info *pool)
{
    uint64_t now = clock_monotonic_ms();
    if (!w->spot_short_since)
        w->spot_short_since = now;
    tell_spot_shortage(w, shortage, pool_id, pool);
    uint64_t left;
    const offloader_config *c = w->plan->config;
    if (spot_fallback_decide(c->spot_fallback, c->spot_fallback_seconds, w->spot_short_since, now,
                             &left) == SPOT_SWITCH_TO_DEDICATED)
        switch_to_dedicated(w, b, pool_id, now - w->spot_short_since);
}

/* ---- the check ------------------------------------------------------------------- */

pool_verdict pool_watch_check(pool_watch *w, batch_client *b, const job_info *job, char *why,
                              size_t why_size)
{
    char reason[1024] = "";
    if (job->scheduling_error[0])
        snprintf(reason, sizeof(reason), "the job cannot be scheduled: %s",
                 job->scheduling_error);
    if (!job->pool_id[0]) { /* an auto pool not made yet */
        tell_waiting(w, reason);
        return POOL_WAIT;
    }
    batch_pool_info pool;
    batch_result r;
    if (!batch_get_pool(b, job->pool_id, &pool, &r))
        return POOL_CANCELLED;
    pool_verdict verdict = POOL_WAIT;
    if (r.status == 404 || (batch_result_ok(&r) && pool.deleting)) {
        verdict = pool_gone(w, b, job, r.status != 404, why, why_size);
        batch_pool_info_free(&pool);
        return verdict;
    }
    if (!batch_result_ok(&r)) { /* asked again at the next check */
        batch_pool_info_free(&pool);
        tell_waiting(w, reason);
        return POOL_WAIT;
    }
    bool auto_pool = is_auto_pool(w);
    if (auto_pool && !w->switched && !w->plan->dedicated_nodes && asks_for_dedicated(w, &pool))
        w->switched = true; /* an earlier pod's fallback */
    bool wants_spot = auto_pool && !w->plan->dedicated_nodes && !w->switched;
    pool_shortage shortage = pool_shortage_classify(&pool, wants_spot);
    if (shortage == SHORTAGE_VM_SIZE && auto_pool) {
        buffer errors;
        buffer_init(&errors, 0);
        batch_pool_describe_errors(&pool, &errors);
        snprintf(why, why_size, "Batch cannot allocate the auto pool's VM size %s: %s. %s: %s",
                 w->plan->config->vm_size, buffer_cstr(&errors), pool_shortage_cause(shortage),
                 pool_shortage_remedy(shortage));
        buffer_free(&errors);
        log_error(why, LOG_STR("pool", job->pool_id));
        job_reporter_event(w->reporter, EVENT_WARNING, "BadConfiguration", why);
        verdict = POOL_UNUSABLE;
    } else if (pool_shortage_is_spot(shortage)) {
        watch_spot(w, b, shortage, job->pool_id, &pool);
    } else {
        w->spot_short_since = 0;
        if (shortage != SHORTAGE_NONE) {
            buffer errors;
            buffer_init(&errors, 0);
            batch_pool_describe_errors(&pool, &errors);
            size_t used = strlen(reason);
            snprintf(reason + used, sizeof(reason) - used, "%spool %s cannot grow: %s",
                     used ? "; " : "", job->pool_id, buffer_cstr(&errors));
            buffer_free(&errors);
        }
        tell_waiting(w, reason);
    }
    batch_pool_info_free(&pool);
    return verdict;
}
