/* The webhook's command line: one table of options, each also settable by an
 * environment variable BATCH_OFFLOAD_<OPTION> (flags win), checked before
 * anything starts. */
#ifndef WEBHOOK_CONFIG_H
#define WEBHOOK_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

/* The largest request head (request line and headers) the webhook reads. */
#define HEAD_LIMIT_BYTES 16384

typedef struct webhook_config {
    /* serving */
    char *listen;
    char *tls_cert;
    char *tls_key;
    long threads;
    long max_connections;
    long header_timeout;  /* seconds */
    long body_timeout;
    long idle_timeout;
    long max_body_bytes;
    long max_buffered_bytes;
    long shutdown_delay;  /* seconds of not-ready before draining */
    long drain_timeout;
    char *log_level;
    /* the platform's policy for offloaded Jobs */
    char *offloader_image;
    char *credentials_secret;
    char *default_pool;
    char *allowed_pools;
    long max_completions;
    char *default_storage_container;
    char *default_vm_size;
    char *allowed_namespaces;
    char *offloader_service_account;
    bool workload_identity;
    bool offloader_api_access;
    long offloader_backoff_limit;
    char *offloader_auth;
    char *pool_image;
    char *node_agent_sku;
    long task_slots_per_node;
    char *node_fill_type;
    char *autoscale_formula;
    long max_nodes;
    char *spot_fallback;
    long spot_fallback_seconds;
    char *gpu_pool;
    char *gpu_vm_size;
    char *gpu_pool_image;
    char *gpu_node_agent_sku;
    char *secret_env; /* warn or deny */
} webhook_config;

typedef enum {
    CONFIG_RUN,        /* start serving */
    CONFIG_EXIT_OK,    /* --help or --version was answered */
    CONFIG_EXIT_USAGE, /* a bad option; the message was printed */
} config_result;

/* Reads environment then argv; prints help, version or errors to out/err. */
config_result webhook_config_load(webhook_config *config, int argc, char **argv, FILE *out,
                                  FILE *err);
void webhook_config_free(webhook_config *config);

#endif
