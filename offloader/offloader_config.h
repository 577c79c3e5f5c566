/* The offloader's configuration: environment variables under the original
 * standalone sample's names (DESIGN.md), one table of them with their checks
 * in offloader_config.c. Everything is validated before any request is made;
 * a bad value exits 2 with a message naming the variable. */
#ifndef OFFLOADER_CONFIG_H
#define OFFLOADER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buffer.h"

typedef struct offloader_config {
    /* the Batch account */
    char *batch_url;        /* BATCHCONNECTIONSTRING, no trailing '/' */
    char *batch_account;    /* BATCHNAME */
    char *batch_key_text;   /* BATCHPASSWORD (base64) */
    uint8_t batch_key[128]; /* decoded */
    size_t batch_key_len;
    char *api_version;      /* BATCH_OFFLOAD_API_VERSION */
    /* the Batch job */
    char *job_id;           /* JOBID */
    char *pool_id;          /* POOLID; NULL: an auto pool */
    char *priority;         /* PRIORITY: spot or dedicated */
    char *vm_size;          /* VMSIZE */
    bool keep_batch_job;    /* KEEPBATCHJOB */
    char *namespace_name;   /* BATCH_OFFLOAD_NAMESPACE (set in the pod) */
    char *job_name;         /* BATCH_OFFLOAD_JOB_NAME */
    char *job_uid;          /* BATCH_OFFLOAD_JOB_UID */
    /* the work */
    long completions;       /* COMPLETIONS */
    char *worker_image;     /* WORKERIMAGENAME */
    char *aggregator_image; /* AGGREGATORIMAGENAME; NULL: no aggregator */
    char *aggregator_args;  /* AGGREGATORARGS: JSON array of strings */
    char *worker_spec;      /* WORKERSPEC: JSON from the webhook */
    char *registry_server;  /* REGISTRYNAME */
    char *registry_username;
    char *registry_password;
    /* storage */
    char *storage_account;  /* STORAGEACCOUNT */
    char *storage_key_text; /* STORAGEKEY */
    char *container;        /* CONTAINER */
    char *blob_prefix;      /* BLOBPREFIX */
    char *blob_endpoint;    /* BLOBENDPOINT; default https://<account>.blob.core.windows.net */
    /* behaviour */
    long retry_budget_seconds; /* BATCH_OFFLOAD_RETRY_BUDGET_SECONDS */
    long poll_max_seconds;     /* BATCH_OFFLOAD_POLL_MAX_SECONDS */
    long max_nodes;            /* BATCH_OFFLOAD_MAX_NODES: auto pool size cap */
} offloader_config;

/* Reads the environment. On a bad or missing value returns false with one
 * line per problem in errors, each naming the variable. Registers every
 * secret for redaction. */
bool offloader_config_load(offloader_config *config, buffer *errors);
void offloader_config_free(offloader_config *config);
/* The variables, for --help. */
void offloader_config_describe(buffer *out);

#endif
