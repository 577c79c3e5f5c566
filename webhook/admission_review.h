/* Decoding an AdmissionReview request and encoding its answer, in the API
 * version it came in (admission.k8s.io/v1 or v1beta1). */
#ifndef ADMISSION_REVIEW_H
#define ADMISSION_REVIEW_H

#include <stdbool.h>
#include <stddef.h>

#include "buffer.h"
#include "json_reader.h"

/* A Job's AdmissionReview is a few KB and a few hundred tokens; this bounds
 * pathological input (the token array is allocated at the exact count, 25
 * bytes a token: at most 6.25 MiB). */
#define ADMISSION_MAX_TOKENS (256 * 1024)

typedef enum { ADMISSION_V1, ADMISSION_V1BETA1 } admission_api_version;

typedef struct admission_request {
    json_document doc;
    admission_api_version version;
    int object;          /* token of request.object; -1 when absent (DELETE) */
    char *uid;
    char *namespace_name; /* NULL for cluster-scoped objects */
    char *name;           /* NULL when the object uses generateName */
    char *operation;      /* CREATE, UPDATE, DELETE, CONNECT */
    bool dry_run;
    bool is_job;          /* request.kind is batch/v1 Job */
} admission_request;

/* Decodes body (which must outlive the request). False with a reason when the
 * body is not JSON or not an AdmissionReview request. */
bool admission_request_decode(admission_request *r, const char *body, size_t len, char *error,
                              size_t error_size);
void admission_request_free(admission_request *r);

typedef struct admission_response {
    bool allowed;
    int status_code;         /* with allowed=false: 400, 403, ... */
    const char *message;     /* with allowed=false */
    const char *patch;       /* JSON Patch text, or NULL */
    size_t patch_len;
    const char *const *warnings;
    size_t warning_count;
} admission_response;

void admission_response_encode(buffer *out, const admission_request *r,
                               const admission_response *response);

#endif
