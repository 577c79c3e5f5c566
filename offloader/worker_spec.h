/* The worker container as the webhook carried it (WORKERSPEC): its command,
 * args and working directory, its resource limits and GPUs, and its environment
 * resolved the way the kubelet would have resolved it in a worker pod. */
#ifndef WORKER_SPEC_H
#define WORKER_SPEC_H

#include <stdbool.h>
#include <stddef.h>

#include "buffer.h"
#include "env_list.h"
#include "json_reader.h"

/* WORKERSPEC's token limit: an environment variable holds 128 KiB at most,
 * and a token takes at least two bytes of it. */
#define WORKER_SPEC_TOKENS (1 << 20)

typedef struct string_list {
    char **items;
    size_t count;
} string_list;

typedef struct worker_spec {
    json_document doc; /* WORKERSPEC, kept for the Job field mappings */
    char *text;
    int container;     /* token of the container object, -1 when absent */
    string_list command;
    string_list args;
    char *working_dir;
    double cpu_limit;    /* cores; 0: none */
    double memory_limit; /* bytes; 0: none */
    long gpus;           /* nvidia.com/gpu (offload_contract.h); 0: none */
    env_list env;
    string_list pull_secrets; /* imagePullSecrets names, in order */
} worker_spec;

/* Reads WORKERSPEC (NULL: a worker with only the image, as when run by
 * hand). `environ` supplies the variables the kubelet resolved for the
 * offloader pod. On a problem returns false with a reason in errors. */
bool worker_spec_read(worker_spec *spec, const char *json_text, char **environ_list,
                      buffer *errors);
void worker_spec_free(worker_spec *spec);

bool string_list_push(string_list *list, const char *s);
void string_list_free(string_list *list);
/* Reads a JSON array of strings. */
bool string_list_from_json(string_list *list, const json_document *doc, int array);

#endif
