/* Every Job of a namespace as the API server lists it, page by page, in
 * metadata only (what gc needs to tell a live Job from a gone one). */
#ifndef KUBE_JOB_LIST_H
#define KUBE_JOB_LIST_H

#include <stdbool.h>

#include "kube_client.h"

/* Jobs a page holds at most: client-go's pager asks for 500, but a Job's
 * metadata carries kubectl's last-applied copy of the whole Job. */
#define KUBE_JOB_LIST_PAGE 100

typedef struct kube_job_metadata {
    const char *name;
    const char *uid;
    bool deleting;      /* it has a deletionTimestamp */
    const char *result; /* the batch-offload.io/result annotation, or NULL */
} kube_job_metadata;

/* Called for each Job; what it points at lives only during the call. */
typedef void (*kube_job_visitor)(void *context, const kube_job_metadata *job);

/* Lists the namespace's Jobs to the end; false (with why) when a page did
 * not come: the caller then knows nothing of the namespace. */
bool kube_job_list(kube_client *k, const char *namespace_name, kube_job_visitor visit,
                   void *context, char *why, size_t why_size);

#endif
