/* Where an offloaded Job's Secrets end up, said at admission. The worker's
 * env values from Secrets (env[].valueFrom.secretKeyRef, envFrom[].secretRef)
 * become the Batch job's commonEnvironmentSettings, which anyone with read
 * access to the Batch account can read; an imagePullSecrets password goes to
 * Batch with every task. The README's "Secrets" has the safer routes. */
#ifndef SECRET_EXPOSURE_H
#define SECRET_EXPOSURE_H

#include <stdbool.h>

#include "admission_warnings.h"
#include "buffer.h"
#include "json_reader.h"

/* Warns about both, given the worker's env and envFrom and the pod spec's
 * imagePullSecrets (tokens, -1 when absent); with deny (the platform's
 * --secret-env=deny) a worker env from Secrets returns false instead, the
 * reason in message, naming the first such entry. */
bool secret_exposure_check(const json_document *doc, int env, int env_from, int pull_secrets,
                           bool deny, buffer *message, admission_warnings *warnings);

#endif
