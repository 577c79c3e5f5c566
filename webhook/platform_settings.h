/* The platform team's settings the webhook applies to every offloaded Job
 * (from flags or environment; see webhook_config.c). */
#ifndef PLATFORM_SETTINGS_H
#define PLATFORM_SETTINGS_H

#include <stdbool.h>

typedef struct platform_settings {
    const char *offloader_image;
    const char *credentials_secret;        /* Secret in the Job's namespace */
    const char *default_pool;              /* "" = an auto pool per job */
    const char *allowed_pools;             /* comma-separated; "" = any */
    long max_completions;
    const char *default_storage_container;
    const char *default_vm_size;           /* "" = the offloader's default */
    const char *allowed_namespaces;        /* comma-separated; "" = all */
    const char *offloader_service_account; /* "" = the namespace default, token not mounted */
    bool workload_identity;                /* Entra workload identity for offloader pods */
    bool api_access;                       /* offloader pods get a Kubernetes API token */
    long offloader_backoff_limit;          /* pod retries for infrastructure failures */
    const char *offloader_auth;            /* BATCH_OFFLOAD_AUTH for offloader pods; "" = auto */
    /* auto pools: "" or 0 keeps the offloader's default */
    const char *pool_image;                /* publisher:offer:sku:version */
    const char *node_agent_sku;
    long task_slots_per_node;
    const char *node_fill_type;            /* spread or pack */
    const char *autoscale_formula;
    long max_nodes;
    const char *spot_fallback;             /* wait or dedicated */
    long spot_fallback_seconds;
    /* Jobs whose worker asks for nvidia.com/gpu: "" for each, and none of
     * pool and VM size, refuses them */
    const char *gpu_pool;                  /* the pool they run on when they name none */
    const char *gpu_vm_size;               /* else an auto pool of this size */
    const char *gpu_pool_image;            /* and image ("" = the offloader's default) */
    const char *gpu_node_agent_sku;
    /* Jobs whose worker takes env values from Secrets (secret_exposure.h):
     * refused rather than warned about (--secret-env=deny) */
    bool deny_secret_env;
} platform_settings;

/* Whether item is one of the comma-separated entries of list. */
bool list_contains(const char *list, const char *item);

#endif
