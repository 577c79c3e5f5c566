/* The checks before a job exists; see preflight.h. */
#include "preflight.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "clock.h"
#include "log.h"

/* ---- a named pool --------------------------------------------------------- */

bool preflight_pool_usable(const char *pool_id, const azure_account *account, bool found,
                           const batch_pool_info *pool, buffer *why)
{
    if (!found) {
        buffer_appendf(why, "pool %s does not exist in Batch account %s (%s): create it, or "
                            "name an existing pool (batch-offload.io/pool, or the platform's "
                            "--default-pool)",
                       pool_id, account->batch_name, account->batch_url);
        return false;
    }
    if (pool->deleting) {
        buffer_appendf(why, "pool %s in Batch account %s is being deleted: name another pool, "
                            "or create it again once it is gone",
                       pool_id, account->batch_name);
        return false;
    }
    if (!pool->has_container_configuration) {
        buffer_appendf(why, "pool %s in Batch account %s has no container configuration "
                            "(virtualMachineConfiguration.containerConfiguration): offloaded "
                            "work runs in containers, so the pool needs containerConfiguration "
                            "{\"type\": \"dockerCompatible\"} on an image with the "
                            "DockerCompatible capability; create it so, or name another pool",
                       pool_id, account->batch_name);
        return false;
    }
    return true;
}

/* ---- an auto pool's image --------------------------------------------------- */

typedef struct image_name {
    char publisher[96], offer[128], sku[128];
} image_name;

static void split_image(const char *pool_image, image_name *out)
{
    memset(out, 0, sizeof(*out));
    char *parts[] = {out->publisher, out->offer, out->sku};
    size_t sizes[] = {sizeof(out->publisher), sizeof(out->offer), sizeof(out->sku)};
    const char *field = pool_image;
    for (size_t i = 0; i < 3; i++) {
        size_t len = strcspn(field, ":");
        snprintf(parts[i], sizes[i], "%.*s", (int)len, field);
        field += len + (field[len] == ':');
    }
}

static bool same_image(const supported_image *image, const image_name *wanted)
{
    return strcasecmp(image->publisher, wanted->publisher) == 0 &&
           strcasecmp(image->offer, wanted->offer) == 0 &&
           strcasecmp(image->sku, wanted->sku) == 0;
}

/* A few images that would do instead: container-ready ones first. */
static void suggest(const supported_image *images, size_t count, buffer *why)
{
    size_t shown = 0;
    for (int pass = 0; pass < 2 && shown < 4; pass++)
        for (size_t i = 0; i < count && shown < 4; i++) {
            if (images[i].docker_compatible != (pass == 0))
                continue;
            buffer_appendf(why, "%s%s:%s:%s (node agent \"%s\")", shown ? ", " : "",
                           images[i].publisher, images[i].offer, images[i].sku,
                           images[i].node_agent);
            shown++;
        }
}

image_verdict preflight_judge_image(const supported_image *images, size_t count,
                                    const char *pool_image, const char *node_agent,
                                    const char *account_name, buffer *why, buffer *warnings)
{
    image_name wanted;
    split_image(pool_image, &wanted);
    const supported_image *found = NULL;
    for (size_t i = 0; i < count && !found; i++)
        if (same_image(&images[i], &wanted))
            found = &images[i];
    if (!found) {
        buffer_appendf(why, "the auto pool image %s:%s:%s (BATCH_OFFLOAD_POOL_IMAGE, the "
                            "platform's --pool-image) is not one Batch supports in account %s "
                            "(Pools_ListSupportedImages lists %zu",
                       wanted.publisher, wanted.offer, wanted.sku, account_name, count);
        if (count) {
            buffer_append_str(why, ", such as ");
            suggest(images, count, why);
        }
        buffer_append_char(why, ')');
        return IMAGE_NOT_SUPPORTED;
    }
    if (strcasecmp(found->node_agent, node_agent) != 0) {
        buffer_appendf(why, "the auto pool image %s:%s:%s needs node agent SKU \"%s\", not "
                            "\"%s\" (BATCH_OFFLOAD_NODE_AGENT_SKU, the platform's "
                            "--node-agent-sku)",
                       wanted.publisher, wanted.offer, wanted.sku, found->node_agent,
                       node_agent);
        return IMAGE_WRONG_NODE_AGENT;
    }
    /* Batch marks the images that run Docker containers; which ones carry the mark is
     * not documented image by image, so its absence is said, not refused. */
    if (!found->docker_compatible)
        buffer_appendf(warnings, "Batch does not list the DockerCompatible capability for "
                                 "image %s:%s:%s: its nodes may not run container tasks",
                       wanted.publisher, wanted.offer, wanted.sku);
    char today[32];
    clock_iso8601(time(NULL), today);
    if (found->end_of_life[0] && strncmp(found->end_of_life, today, 10) < 0)
        buffer_appendf(warnings, "%sBatch support for image %s:%s:%s (node agent \"%s\") ended "
                                 "%.10s: pools of it may be refused",
                       warnings->len ? "; " : "", wanted.publisher, wanted.offer, wanted.sku,
                       found->node_agent, found->end_of_life);
    return IMAGE_SUPPORTED;
}

/* ---- asking Batch -------------------------------------------------------------- */

static preflight_outcome unanswered(batch_client *b, const batch_result *r, const char *what,
                                    buffer *why)
{
    if (http_client_cancel_flag(b->http) && *http_client_cancel_flag(b->http))
        return PREFLIGHT_CANCELLED;
    buffer text;
    buffer_init(&text, 0);
    batch_result_describe(r, &text);
    buffer_appendf(why, "cannot read %s in Batch account %s: %s", what, b->account->batch_name,
                   buffer_cstr(&text));
    buffer_free(&text);
    return batch_result_outage(r) ? PREFLIGHT_UNAVAILABLE : PREFLIGHT_REFUSED;
}

static preflight_outcome check_pool(batch_client *b, const char *pool_id, buffer *why)
{
    batch_pool_info pool;
    batch_result r;
    if (!batch_get_pool(b, pool_id, &pool, &r))
        return PREFLIGHT_CANCELLED;
    preflight_outcome outcome;
    if (batch_result_ok(&r) || r.status == 404)
        outcome = preflight_pool_usable(pool_id, b->account, r.status != 404, &pool, why)
                      ? PREFLIGHT_PASSED
                      : PREFLIGHT_REFUSED;
    else
        outcome = unanswered(b, &r, "the pool", why);
    batch_pool_info_free(&pool);
    return outcome;
}

typedef struct image_list {
    supported_image *items;
    size_t count, capacity;
    bool out_of_memory;
} image_list;

static void collect_image(void *context, const supported_image *image)
{
    image_list *list = context;
    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? list->capacity * 2 : 64;
        supported_image *grown = realloc(list->items, capacity * sizeof(*grown));
        if (!grown) {
            list->out_of_memory = true;
            return;
        }
        list->items = grown;
        list->capacity = capacity;
    }
    list->items[list->count++] = *image;
}

static preflight_outcome check_image(batch_client *b, const job_plan *plan, buffer *why)
{
    image_list list = {0};
    batch_result r;
    preflight_outcome outcome = PREFLIGHT_PASSED;
    if (!batch_list_supported_images(b, collect_image, &list, &r)) {
        outcome = PREFLIGHT_CANCELLED;
    } else if (!batch_result_ok(&r)) {
        outcome = unanswered(b, &r, "the supported images", why);
    } else if (!list.out_of_memory) {
        buffer warnings;
        buffer_init(&warnings, 0);
        if (preflight_judge_image(list.items, list.count, plan->config->pool_image,
                                  plan->config->node_agent_sku, b->account->batch_name, why,
                                  &warnings) != IMAGE_SUPPORTED)
            outcome = PREFLIGHT_REFUSED;
        else if (warnings.len)
            log_warn(buffer_cstr(&warnings), LOG_STR("account", b->account->label));
        buffer_free(&warnings);
    }
    free(list.items);
    return outcome;
}

preflight_outcome preflight_check(batch_client *b, const job_plan *plan, buffer *why)
{
    const char *pool_id = plan->config->pool_id;
    return pool_id ? check_pool(b, pool_id, why) : check_image(b, plan, why);
}
