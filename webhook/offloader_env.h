/* The offloader container's environment as the webhook writes it (the
 * contract in common/offload_contract.h): the Job's identity through the
 * downward API, the work's settings, the worker spec, the worker's own
 * valueFrom and envFrom sources by index, the credentials and pull secrets
 * by reference only. */
#ifndef OFFLOADER_ENV_H
#define OFFLOADER_ENV_H

#include "job_view.h"
#include "json_writer.h"

/* The container's "env" array. */
void offloader_env_write(json_writer *w, const job_view *v);
/* The container's "envFrom" array: the credentials Secret, then the worker's sources. */
void offloader_env_from_write(json_writer *w, const job_view *v);

#endif
