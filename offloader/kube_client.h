/* The Kubernetes API from inside the offloader pod, as client-go's
 * InClusterConfig reaches it: https://$KUBERNETES_SERVICE_HOST:$PORT with the
 * service account's token (re-read when the kubelet rotates it) and its CA
 * (docs/KUBERNETES.md, "Access"). Requests have a short budget of their own,
 * apart from the run's Batch requests and unaffected by SIGTERM, so the API
 * server can be asked why the pod is stopping and never holds up the work. */
#ifndef KUBE_CLIENT_H
#define KUBE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "buffer.h"

#define KUBE_SERVICEACCOUNT_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

typedef struct kube_client kube_client;

typedef struct kube_answer {
    long status;     /* 0: no answer within the budget */
    buffer body;
    char error[256]; /* why there is no answer, or the Status message of a refusal */
} kube_answer;

/* NULL outside a cluster (no KUBERNETES_SERVICE_HOST): the offloader then
 * runs as it always could, by hand. serviceaccount_dir NULL: the default.
 * without_access (a static string) says in the one warning what the program
 * does when the API refuses it or does not answer. */
kube_client *kube_client_in_cluster(const char *serviceaccount_dir, const char *without_access);
void kube_client_free(kube_client *k);

void kube_answer_init(kube_answer *a);
/* An answer that may hold up to limit bytes (a list's page), not the default 4 MiB. */
void kube_answer_init_limited(kube_answer *a, size_t limit);
void kube_answer_free(kube_answer *a);

/* One request to path ("/apis/batch/v1/..."), with a JSON body (or NULL)
 * of content_type. A refusal (401, 403) or no answer is said once, in one
 * warning, the first time; the caller carries on without what it asked. */
void kube_request(kube_client *k, const char *method, const char *path, const char *content_type,
                  const buffer *body, kube_answer *answer);

/* A GET or DELETE asking for another representation (accept) than JSON objects. */
void kube_request_accepting(kube_client *k, const char *method, const char *path,
                            const char *accept, kube_answer *answer);

/* Whether that one warning was given: what fails after it needs no word of its own. */
bool kube_client_said_unavailable(const kube_client *k);

/* False for a minute after a request got no answer: what can wait (Events,
 * progress) is then left out, so an unreachable API server holds nothing up;
 * what matters (the Job's result, why a SIGTERM came) is asked all the same. */
bool kube_client_worth_asking(const kube_client *k);

/* Appends a path segment (a namespace or a name), percent-encoded. */
void kube_path_append(buffer *path, const char *segment);

#endif
