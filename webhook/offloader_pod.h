/* The offloader pod and the JSON Patch that turns a Job into it. */
#ifndef OFFLOADER_POD_H
#define OFFLOADER_POD_H

#include "job_view.h"
#include "json_writer.h"

/* The pod template annotation that marks a rewritten Job (idempotence). */
#define OFFLOADER_MARKER "batch-offload.io/offloader"
#define OFFLOADER_CONTAINER_NAME "batch-offloader"
#define OFFLOADER_USER_ID 65532

/* The JSON Patch array for the Job v describes. */
void offloader_patch_write(json_writer *w, const job_view *v);

#endif
