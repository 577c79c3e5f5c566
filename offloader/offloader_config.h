/* The offloader's configuration: environment variables under the original
 * standalone sample's names (docs/DESIGN.md), one table of them with their checks
 * in offloader_config.c. Everything is validated before any request is made;
 * a bad value exits 2 with a message naming the variable. */
#ifndef OFFLOADER_CONFIG_H
#define OFFLOADER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buffer.h"
#include "entra_token.h"
#include "offload_contract.h"
#include "retry_policy.h"


/* One region's Batch and Storage accounts. */
typedef struct azure_account {
    const char *label;       /* "primary" or "secondary", for messages */
    char *batch_url;         /* BATCHCONNECTIONSTRING, no trailing '/' */
    char *batch_name;        /* BATCHNAME */
    char *batch_key_text;    /* BATCHPASSWORD (base64), shared key only */
    uint8_t batch_key[128];  /* decoded */
    size_t batch_key_len;
    char *storage_account;   /* STORAGEACCOUNT */
    char *storage_key_text;  /* STORAGEKEY, shared key only */
    char *blob_endpoint;     /* BLOBENDPOINT; default https://<account>.blob.core.windows.net */
} azure_account;

typedef struct offloader_config {
    azure_account primary;
    azure_account secondary;   /* SECONDARY_*; batch_url NULL when there is none */
    offload_auth auth;         /* BATCH_OFFLOAD_AUTH, or chosen from what is set */
    char *auth_text;
    entra_settings entra;      /* for the Entra methods */
    char *tenant_id, *client_id, *client_secret, *federated_token_file, *authority_host,
        *imds_endpoint;
    char *api_version;         /* BATCH_OFFLOAD_API_VERSION */
    /* the Batch job */
    char *job_id;              /* JOBID */
    char *pool_id;             /* POOLID; NULL: an auto pool */
    char *priority;            /* PRIORITY: spot or dedicated */
    char *vm_size;             /* VMSIZE */
    bool keep_batch_job;       /* KEEPBATCHJOB */
    char *namespace_name;      /* BATCH_OFFLOAD_NAMESPACE (set in the pod) */
    char *job_name;            /* BATCH_OFFLOAD_JOB_NAME */
    char *job_uid;             /* BATCH_OFFLOAD_JOB_UID */
    char *pod_name;            /* BATCH_OFFLOAD_POD_NAME: the offloader's own pod */
    char *pod_uid;             /* BATCH_OFFLOAD_POD_UID */
    char *serviceaccount_dir;  /* BATCH_OFFLOAD_SERVICEACCOUNT_DIR; NULL: the standard one */
    /* the work */
    long completions;          /* COMPLETIONS */
    char *worker_image;        /* WORKERIMAGENAME */
    char *aggregator_image;    /* AGGREGATORIMAGENAME; NULL: no aggregator */
    char *aggregator_args;     /* AGGREGATORARGS: JSON array of strings */
    char *worker_spec;         /* WORKERSPEC: JSON from the webhook */
    char *registry_server;     /* REGISTRYNAME */
    char *registry_username;
    char *registry_password;
    char *container;           /* CONTAINER */
    char *blob_prefix;         /* BLOBPREFIX: outputs and logs */
    char *input_prefix;        /* INPUTPREFIX; NULL: inputs under BLOBPREFIX */
    char *inputs;              /* INPUTS: "required" or "optional" */
    bool inputs_required;      /* INPUTS=required: no input blobs is bad configuration */
    /* auto pools */
    char *pool_image;          /* BATCH_OFFLOAD_POOL_IMAGE publisher:offer:sku:version */
    char *node_agent_sku;      /* BATCH_OFFLOAD_NODE_AGENT_SKU */
    long task_slots_per_node;  /* BATCH_OFFLOAD_TASK_SLOTS_PER_NODE */
    char *node_fill_type;      /* BATCH_OFFLOAD_NODE_FILL_TYPE: spread or pack */
    char *autoscale_formula;   /* BATCH_OFFLOAD_AUTOSCALE_FORMULA; NULL: the default */
    long max_nodes;            /* BATCH_OFFLOAD_MAX_NODES */
    char *spot_fallback;       /* BATCH_OFFLOAD_SPOT_FALLBACK: wait or dedicated */
    long spot_fallback_seconds; /* BATCH_OFFLOAD_SPOT_FALLBACK_SECONDS: before "dedicated" acts */
    /* behaviour */
    long retry_budget_seconds; /* BATCH_OFFLOAD_RETRY_BUDGET_SECONDS */
    long poll_max_seconds;     /* BATCH_OFFLOAD_POLL_MAX_SECONDS */
    long quota_wait_seconds;   /* BATCH_OFFLOAD_QUOTA_WAIT_MAX_SECONDS: longest wait between tries */
} offloader_config;

/* What the configuration is for: a run needs the work's variables; gc only
 * the accounts and their credentials (any work variable set is still checked). */
typedef enum { CONFIG_FOR_WORK, CONFIG_FOR_GC } config_purpose;

/* Reads the environment. On a bad or missing value returns false with one
 * line per problem in errors, each naming the variable. Registers every
 * secret for redaction. */
bool offloader_config_load(offloader_config *config, config_purpose purpose, buffer *errors);
void offloader_config_free(offloader_config *config);
/* The variables, for --help. */
void offloader_config_describe(buffer *out);
bool offloader_config_uses_entra(const offloader_config *config);
/* How every Azure request is retried: backoff from 500 ms to 30 s, for as
 * long as BATCH_OFFLOAD_RETRY_BUDGET_SECONDS allows, however many attempts
 * that takes (past it, Azure counts as unavailable: exit 3). */
retry_policy offloader_retry_policy(const offloader_config *config);

#endif
