/* The Batch REST API as the offloader uses it: each operation is one signed
 * request (retried by the HTTP client on transient failures) and its answer
 * read back, errors in the service's shape (code, message). */
#ifndef BATCH_CLIENT_H
#define BATCH_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "batch_result.h"
#include "buffer.h"
#include "entra_token.h"
#include "http_client.h"
#include "json_reader.h"
#include "offloader_config.h"

typedef struct batch_client {
    const offloader_config *config;
    const azure_account *account; /* which Batch account requests go to */
    http_client *http;
    entra_tokens *tokens;         /* Entra ID; NULL: Shared Key with the account key */
    const char *job_id;           /* the job operations act on; NULL: config->job_id */
} batch_client;

typedef struct task_counts {
    int64_t active, running, completed, succeeded, failed;
} task_counts;

typedef enum {
    JOB_STATE_UNKNOWN,
    JOB_STATE_ACTIVE,
    JOB_STATE_TERMINATING,
    JOB_STATE_COMPLETED,
    JOB_STATE_DELETING,
    JOB_STATE_DISABLING,
    JOB_STATE_DISABLED,
    JOB_STATE_ENABLING,
} batch_job_state;

/* Active, or on its way to or from disabled: its tasks may still run. */
static inline bool batch_job_is_live(batch_job_state state)
{
    return state == JOB_STATE_ACTIVE || state == JOB_STATE_DISABLING ||
           state == JOB_STATE_DISABLED || state == JOB_STATE_ENABLING;
}

typedef struct job_info {
    batch_job_state state;
    bool finishes_when_done; /* onAllTasksComplete is terminatejob */
    char terminate_reason[64];
    char pool_id[72];          /* executionInfo.poolId: the pool it runs on (auto pools too) */
    /* executionInfo.schedulingError: why it cannot run, as "code: message (name: value; ...)" */
    char scheduling_error[640];
    bool scheduling_user_error; /* its category is usererror: the request, not the service */
    bool without_inputs;       /* created without input blobs (its metadata says so) */
} job_info;

/* Prepares x for method and path (percent-encoded, under the account URL)
 * with extra query parameters (or NULL); signing happens per attempt. */
void batch_exchange_init(batch_client *b, http_exchange *x, const char *method, const char *path,
                         const char *query);
bool batch_get_job(batch_client *b, job_info *job, batch_result *r);
bool batch_create_job(batch_client *b, const buffer *body, batch_result *r);
bool batch_update_job(batch_client *b, const buffer *body, batch_result *r);
bool batch_terminate_job(batch_client *b, const char *reason, batch_result *r);
/* No new task starts; running ones go back to the queue (disableTasks requeue). */
bool batch_disable_job(batch_client *b, batch_result *r);
bool batch_enable_job(batch_client *b, batch_result *r);
bool batch_delete_job(batch_client *b, batch_result *r);
bool batch_get_task_counts(batch_client *b, task_counts *counts, batch_result *r);
/* A pool as the offloader judges it (Pools_GetPool, a $select of what it reads). */
#define POOL_RESIZE_ERRORS_KEPT 4
typedef struct pool_resize_error {
    char code[64];     /* e.g. AllocationTimedout, AccountLowPriorityCoreQuotaReached */
    char message[320];
    char values[480];  /* "name: value; ..." (Compute's own error as "Provider Error Json") */
} pool_resize_error;

typedef struct batch_pool_info {
    bool deleting;                    /* state "deleting": it is going away */
    bool has_container_configuration; /* virtualMachineConfiguration.containerConfiguration */
    bool auto_scale;
    char *autoscale_formula;          /* NULL when none */
    /* Spot nodes are the low-priority ones (Batch kept the property names). */
    int64_t current_dedicated, current_spot;
    pool_resize_error errors[POOL_RESIZE_ERRORS_KEPT];
    size_t error_count;               /* those kept; the first ones the pool lists */
} batch_pool_info;

/* 200 fills pool (free it with batch_pool_info_free); 404 PoolNotFound: no such pool. */
bool batch_get_pool(batch_client *b, const char *pool_id, batch_pool_info *pool, batch_result *r);
void batch_pool_info_free(batch_pool_info *pool);
/* The resize errors as "code: message (values); ...", empty when there are none. */
void batch_pool_describe_errors(const batch_pool_info *pool, buffer *out);
/* Pools_EnablePoolAutoScale: a new formula for a pool that autoscales (at most every 30 s). */
bool batch_enable_pool_autoscale(batch_client *b, const char *pool_id, const char *formula,
                                 const char *evaluation_interval, batch_result *r);

/* One image of Pools_ListSupportedImages. */
typedef struct supported_image {
    char publisher[96], offer[128], sku[128];
    char node_agent[128];     /* nodeAgentSKUId */
    bool docker_compatible;   /* capabilities has DockerCompatible */
    char end_of_life[40];     /* batchSupportEndOfLife, empty when none */
} supported_image;

/* Calls visit for each image the account may use (all pages). */
bool batch_list_supported_images(batch_client *b,
                                 void (*visit)(void *context, const supported_image *image),
                                 void *context, batch_result *r);

/* A job in the account's list, with whose it is (its batch-offload.io metadata). */
typedef struct batch_job_summary {
    char id[72];
    batch_job_state state;
    bool made_by_offloader; /* created-by: batch-offload */
    char namespace_name[64], job_name[254], job_uid[64]; /* empty: absent */
} batch_job_summary;

/* Calls visit for each job of the account (all pages). */
bool batch_list_jobs(batch_client *b, void (*visit)(void *context, const batch_job_summary *job),
                     void *context, batch_result *r);

/* Calls visit(id) for each task of the job (all pages). */
bool batch_list_task_ids(batch_client *b, void (*visit)(void *context, const char *id),
                         void *context, batch_result *r);

/* Every failed run of the worker tasks, retries included (all pages). */
bool batch_count_failed_attempts(batch_client *b, long *attempts, batch_result *r);

/* Sets bit i of bitmap for each worker task i that succeeded (all pages). */
bool batch_mark_succeeded_indexes(batch_client *b, unsigned char *bitmap, long completions,
                                  batch_result *r);

typedef struct failed_task {
    char id[72];
    int64_t exit_code;
    bool has_exit_code;
    int64_t retries;
    char failure_code[64]; /* failureInfo.code, e.g. FailureExitCode, TaskEnded */
    char failure[256];     /* failureInfo: category, code, message */
} failed_task;

/* Up to max tasks whose result is failure. */
bool batch_list_failed_tasks(batch_client *b, failed_task *out, size_t max, size_t *count,
                             batch_result *r);
/* The last max_bytes of a task's file (e.g. "stderr.txt"); *cut says the
 * file was longer, so the tail starts mid-file. */
bool batch_task_file_tail(batch_client *b, const char *task_id, const char *file,
                          size_t max_bytes, buffer *out, bool *cut, batch_result *r);
/* The first max_bytes of a task's file (all of it when shorter). The file
 * must not be empty: Batch refuses a range that starts past its end. */
bool batch_task_file_head(batch_client *b, const char *task_id, const char *file,
                          size_t max_bytes, buffer *out, batch_result *r);

#endif
