/* The Job -> offloader rewrite: decides whether a Job is offloaded and, if
 * so, builds the JSON Patch that turns it into one small offloader pod
 * carrying the worker spec as configuration (docs/DESIGN.md, "The
 * rewritten Job"; the pod in offloader_pod.c, its environment in
 * offloader_env.c). Pure: no I/O, so unit tests and the fuzzer drive it
 * directly. */
#ifndef JOB_MUTATION_H
#define JOB_MUTATION_H

#include "admission_warnings.h"
#include "buffer.h"
#include "json_reader.h"
#include "platform_settings.h"

typedef enum {
    MUTATION_UNCHANGED, /* allowed as is: not opted in, or already rewritten */
    MUTATION_PATCHED,   /* allowed with `patch` */
    MUTATION_DENIED,    /* refused with `status_code` and `message` */
} mutation_outcome;

typedef struct job_mutation {
    mutation_outcome outcome;
    const char *reason;  /* short, for logs: why unchanged */
    int status_code;     /* when denied */
    buffer message;      /* when denied */
    buffer patch;        /* when patched: a JSON Patch array */
    admission_warnings warnings;
} job_mutation;

void job_mutation_init(job_mutation *m);
void job_mutation_free(job_mutation *m);

/* Decides for the Job object at token `job` in namespace `namespace_name`
 * (from the AdmissionReview request; the object may not carry it). */
void job_mutate(job_mutation *m, const json_document *doc, int job, const char *namespace_name,
                const platform_settings *platform);

#endif
