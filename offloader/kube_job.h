/* The offloader's own Kubernetes Job and pod, as the API server tells them:
 * whether the Job still exists (and is the same one), is being deleted or is
 * suspended, what result an earlier pod recorded on it; whether the pod was
 * disrupted; and the annotations the offloader writes on the Job. */
#ifndef KUBE_JOB_H
#define KUBE_JOB_H

#include <stdbool.h>

#include "kube_client.h"

/* Which Job and pod: from the downward API (offloader_config). */
typedef struct kube_job_ref {
    const char *namespace_name;
    const char *name;
    const char *uid;
    const char *pod_name; /* NULL: not known */
} kube_job_ref;

typedef struct kube_job_state {
    bool answered;   /* the API server said (false: no answer, no access) */
    bool exists;     /* false: 404, or a Job of that name with another UID */
    bool deleting;   /* it has a deletionTimestamp */
    bool suspended;  /* spec.suspend */
    /* The Job controller ended it (a Failed, FailureTarget, Complete or
     * SuccessCriteriaMet condition): no pod comes after this one. */
    bool ended;
    char ended_reason[64]; /* that condition's reason, e.g. DeadlineExceeded */
    char *result;    /* the batch-offload.io/result annotation (malloc'd), or NULL */
} kube_job_state;

/* Reads the Job; false when the API server did not answer usefully. */
bool kube_job_read(kube_client *k, const kube_job_ref *ref, kube_job_state *state);
void kube_job_state_free(kube_job_state *state);

/* Sets annotations on the Job (a merge patch): count keys and values. */
bool kube_job_annotate(kube_client *k, const kube_job_ref *ref, const char *const *keys,
                       const char *const *values, size_t count);

/* Whether the pod carries the DisruptionTarget condition (an eviction, a
 * drain, a preemption); false when it does not or cannot be read. */
bool kube_pod_disrupted(kube_client *k, const kube_job_ref *ref);

#endif
