/* The contract between the webhook and the offloader (docs/DESIGN.md): the
 * environment the webhook writes into the offloader pod and the offloader
 * reads, its exit codes, on which the webhook's podFailurePolicy keys, and
 * the defaults both state. One place, so that a setting added here is seen
 * by both programs and their --help. The names are the original standalone
 * sample's, so the offloader can also be run by hand with them. */
#ifndef OFFLOAD_CONTRACT_H
#define OFFLOAD_CONTRACT_H

#include <stdbool.h>

/* ---- exit codes --------------------------------------------------------- */

enum {
    OFFLOAD_EXIT_SUCCEEDED = 0,
    OFFLOAD_EXIT_WORK_FAILED = 1,        /* the podFailurePolicy fails the Job at once */
    OFFLOAD_EXIT_BAD_CONFIGURATION = 2,  /* likewise */
    OFFLOAD_EXIT_AZURE_UNAVAILABLE = 3,  /* retried: the next pod re-attaches */
    OFFLOAD_EXIT_TERMINATED = 143,       /* stopped by SIGTERM */
};

/* ---- the offloader's environment ----------------------------------------- */

/* The work: one Batch job, its worker tasks, the aggregator, the data. */
#define OFFLOAD_ENV_JOB_ID "JOBID"
#define OFFLOAD_ENV_POOL_ID "POOLID"
#define OFFLOAD_ENV_WORKER_IMAGE "WORKERIMAGENAME"
#define OFFLOAD_ENV_COMPLETIONS "COMPLETIONS"
#define OFFLOAD_ENV_AGGREGATOR_IMAGE "AGGREGATORIMAGENAME"
#define OFFLOAD_ENV_AGGREGATOR_ARGS "AGGREGATORARGS"
/* Where outputs and logs go: <prefix>/output/<task>/, <prefix>/logs/<task>/. */
#define OFFLOAD_ENV_BLOB_PREFIX "BLOBPREFIX"
/* Where inputs are read: <prefix>/input/; unset, BLOBPREFIX. Apart so that a
 * CronJob's runs read inputs staged once and keep their outputs apart. */
#define OFFLOAD_ENV_INPUT_PREFIX "INPUTPREFIX"
/* Whether a Job without input blobs is bad configuration (exit 2). */
#define OFFLOAD_ENV_INPUTS "INPUTS"
#define OFFLOAD_ENV_CONTAINER "CONTAINER"
#define OFFLOAD_ENV_PRIORITY "PRIORITY"
#define OFFLOAD_ENV_VM_SIZE "VMSIZE"
#define OFFLOAD_ENV_KEEP_BATCH_JOB "KEEPBATCHJOB"
/* The worker container and the Job fields the offloader maps, as JSON. */
#define OFFLOAD_ENV_WORKER_SPEC "WORKERSPEC"

/* The Kubernetes Job, through the downward API (the pod's labels and namespace). */
#define OFFLOAD_ENV_JOB_UID "BATCH_OFFLOAD_JOB_UID"
#define OFFLOAD_ENV_JOB_NAME "BATCH_OFFLOAD_JOB_NAME"
#define OFFLOAD_ENV_NAMESPACE "BATCH_OFFLOAD_NAMESPACE"
/* The offloader's own pod (with --offloader-api-access): its events name it,
 * and a SIGTERM's cause is read from its conditions. */
#define OFFLOAD_ENV_POD_NAME "BATCH_OFFLOAD_POD_NAME"
#define OFFLOAD_ENV_POD_UID "BATCH_OFFLOAD_POD_UID"
/* JOBID, built by the kubelet from the Job's UID so that a restarted
 * offloader finds the same Batch job. */
#define OFFLOAD_JOB_ID_PREFIX "k8s-"
#define OFFLOAD_JOB_ID_FROM_UID OFFLOAD_JOB_ID_PREFIX "$(" OFFLOAD_ENV_JOB_UID ")"

/* The platform's settings, where the webhook was given them. */
#define OFFLOAD_ENV_AUTH "BATCH_OFFLOAD_AUTH"
#define OFFLOAD_ENV_POOL_IMAGE "BATCH_OFFLOAD_POOL_IMAGE"
#define OFFLOAD_ENV_NODE_AGENT_SKU "BATCH_OFFLOAD_NODE_AGENT_SKU"
#define OFFLOAD_ENV_NODE_FILL_TYPE "BATCH_OFFLOAD_NODE_FILL_TYPE"
#define OFFLOAD_ENV_AUTOSCALE_FORMULA "BATCH_OFFLOAD_AUTOSCALE_FORMULA"
#define OFFLOAD_ENV_TASK_SLOTS_PER_NODE "BATCH_OFFLOAD_TASK_SLOTS_PER_NODE"
#define OFFLOAD_ENV_MAX_NODES "BATCH_OFFLOAD_MAX_NODES"
/* An auto pool whose Spot nodes cannot be had: wait for them, or after
 * SPOT_FALLBACK_SECONDS give the pool dedicated nodes (README, "Spot"). */
#define OFFLOAD_ENV_SPOT_FALLBACK "BATCH_OFFLOAD_SPOT_FALLBACK"
#define OFFLOAD_ENV_SPOT_FALLBACK_SECONDS "BATCH_OFFLOAD_SPOT_FALLBACK_SECONDS"

/* What the kubelet resolves for the worker in the offloader pod, by index:
 * env entry i's valueFrom as <ENV_PREFIX>i, envFrom source i's variables
 * behind <ENV_FROM_PREFIX>i_<its own prefix>, imagePullSecrets[i]'s
 * .dockerconfigjson as <PULL_SECRET_PREFIX>i. */
#define OFFLOAD_ENV_WORKER_ENV_PREFIX "BATCH_OFFLOAD_WORKER_ENV_"
#define OFFLOAD_ENV_WORKER_ENV_FROM_PREFIX "BATCH_OFFLOAD_WORKER_ENVFROM_"
#define OFFLOAD_ENV_PULL_SECRET_PREFIX "BATCH_OFFLOAD_PULL_SECRET_"

/* How the offloader signs in to Azure (OFFLOAD_ENV_AUTH; the webhook's
 * --offloader-auth). The offloader also takes "auto": pick from what is set. */
typedef enum {
    OFFLOAD_AUTH_SHARED_KEY,        /* BATCHPASSWORD and STORAGEKEY */
    OFFLOAD_AUTH_WORKLOAD_IDENTITY, /* AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE */
    OFFLOAD_AUTH_CLIENT_SECRET,     /* AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_CLIENT_SECRET */
    OFFLOAD_AUTH_MANAGED_IDENTITY,  /* IMDS; AZURE_CLIENT_ID for a user-assigned identity */
} offload_auth;
#define OFFLOAD_AUTH_NAMES "shared-key, workload-identity, client-secret or managed-identity"
/* false when name is none of OFFLOAD_AUTH_NAMES */
bool offload_auth_from_name(const char *name, offload_auth *auth);

/* Spot or dedicated nodes (OFFLOAD_ENV_PRIORITY; the priority annotation). */
#define OFFLOAD_PRIORITY_NAMES "\"spot\" or \"dedicated\""
bool offload_priority_is_valid(const char *value);

/* What an auto pool without Spot nodes does (OFFLOAD_ENV_SPOT_FALLBACK). */
#define OFFLOAD_SPOT_FALLBACK_NAMES "\"wait\" or \"dedicated\""
bool offload_spot_fallback_is_valid(const char *value);
/* Whether inputs must be there (OFFLOAD_ENV_INPUTS; the inputs annotation). */
#define OFFLOAD_INPUTS_NAMES "\"required\" or \"optional\""
bool offload_inputs_is_valid(const char *value);

/* ---- what the offloader writes back (docs/KUBERNETES.md) ------------------- */

/* On the Kubernetes Job. */
#define OFFLOAD_ANNOTATION_RESULT "batch-offload.io/result"
#define OFFLOAD_ANNOTATION_PROGRESS "batch-offload.io/progress"
#define OFFLOAD_ANNOTATION_BATCH_JOB "batch-offload.io/batch-job"
/* On the Batch job, so that gc knows whose it is. */
#define OFFLOAD_METADATA_CREATED_BY "batch-offload.io/created-by"
#define OFFLOAD_METADATA_CREATOR "batch-offload"
#define OFFLOAD_METADATA_NAMESPACE "batch-offload.io/namespace"
#define OFFLOAD_METADATA_JOB_NAME "batch-offload.io/job-name"
#define OFFLOAD_METADATA_JOB_UID "batch-offload.io/job-uid"
/* "none" on a job created without input blobs: a later offloader adding the
 * rest of its tasks gives them no inputs either, as the first did. */
#define OFFLOAD_METADATA_INPUTS "batch-offload.io/inputs"
#define OFFLOAD_METADATA_NO_INPUTS "none"

/* ---- limits both programs hold -------------------------------------------- */

/* The most completions a Job may offload, whatever the platform's
 * --max-completions says; the offloader refuses more in COMPLETIONS too, and
 * the chart's schema holds offload.maxCompletions to it. Kubernetes' own
 * bound for Indexed Jobs: the largest parallelism it lets one have, and the
 * completions past which it warns (pkg/apis/batch/validation). A plain
 * number, so that OFFLOAD_STRINGIFY and the chart's test can read it. */
#define OFFLOAD_MAX_COMPLETIONS 100000

/* The worker's GPUs: this resource in its container's resources.limits (a
 * request alone is refused, as Kubernetes refuses it), a whole number. Batch
 * gives a container task every GPU of its node by itself and refuses --gpus
 * in containerRunOptions (docs/azure-facts.md section 7), so the count picks
 * where the work runs (a GPU pool, or an auto pool of a GPU VM size, one
 * task per node) rather than a docker option. No Azure VM has more than 8:
 * the bound only keeps the number sane. */
#define OFFLOAD_GPU_RESOURCE "nvidia.com/gpu"
#define OFFLOAD_MAX_GPUS 64

/* ---- defaults both programs state ---------------------------------------- */

#define OFFLOAD_DEFAULT_PRIORITY "spot"
#define OFFLOAD_DEFAULT_KEEP_BATCH_JOB "false"
#define OFFLOAD_DEFAULT_INPUTS "optional"
#define OFFLOAD_DEFAULT_VM_SIZE "Standard_D2s_v3"
#define OFFLOAD_DEFAULT_POOL_IMAGE "microsoft-dsvm:ubuntu-hpc:2204:latest"
#define OFFLOAD_DEFAULT_NODE_AGENT_SKU "batch.node.ubuntu 22.04"
#define OFFLOAD_DEFAULT_NODE_FILL_TYPE "spread"
#define OFFLOAD_DEFAULT_TASK_SLOTS_PER_NODE 1
#define OFFLOAD_DEFAULT_MAX_NODES 20
#define OFFLOAD_DEFAULT_SPOT_FALLBACK "wait"
#define OFFLOAD_DEFAULT_SPOT_FALLBACK_SECONDS 1800

/* Text forms of the numbers, for tables of defaults and help text. */
#define OFFLOAD_STRINGIFY_(x) #x
#define OFFLOAD_STRINGIFY(x) OFFLOAD_STRINGIFY_(x)

#endif
