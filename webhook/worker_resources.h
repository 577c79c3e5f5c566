/* The worker container's resources at admission: how many GPUs it asks for
 * (nvidia.com/gpu, which decides where its work runs on Azure Batch) and a
 * warning for each resource Azure Batch does not get. */
#ifndef WORKER_RESOURCES_H
#define WORKER_RESOURCES_H

#include <stdbool.h>
#include <stdint.h>

#include "admission_warnings.h"
#include "buffer.h"
#include "json_reader.h"

/* Reads the worker's resources (the token of its "resources", -1 when
 * absent): *gpus is its GPU
 * count (0: none). Every limit or request other than cpu, memory and
 * nvidia.com/gpu gets a warning naming it. A GPU count Kubernetes would
 * refuse (not a whole number, a request without its limit, a request that
 * differs from it) returns false with the reason in message. */
bool worker_resources_read(const json_document *doc, int resources, int64_t *gpus,
                           buffer *message, admission_warnings *warnings);

#endif
