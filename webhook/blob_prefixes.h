/* Where an offloaded Job's data is in Blob storage: the offloader's BLOBPREFIX
 * (outputs and logs) and INPUTPREFIX (inputs), from the Job's annotations, its
 * name and the CronJob that made it (docs/DESIGN.md, "Blob storage"):
 *
 *                  BLOBPREFIX                     INPUTPREFIX
 *   a Job          blob-prefix                    input-prefix
 *                  else <ns>/<job name>           else not written: BLOBPREFIX
 *   a CronJob's    blob-prefix                    input-prefix
 *   Job            else <ns>/<cronjob>/runs/<job name>
 *                                                 else, with blob-prefix, not written
 *                                                 else <ns>/<cronjob>
 *
 * A CronJob's Jobs get a new name every run: by default their inputs are read
 * from one place, staged once, and each run's outputs and logs are kept under
 * a prefix of its own, so no run overwrites another's and the aggregator reads
 * only its own run's results. A Job not made by a CronJob is laid out as
 * before the input prefix existed. */
#ifndef BLOB_PREFIXES_H
#define BLOB_PREFIXES_H

#include <stdbool.h>

#include "admission_warnings.h"
#include "buffer.h"
#include "json_reader.h"

struct job_view;

typedef struct blob_prefixes {
    buffer outputs;        /* BLOBPREFIX */
    bool outputs_expanded; /* names $(BATCH_OFFLOAD_JOB_NAME): a generateName Job */
    buffer inputs;         /* INPUTPREFIX; empty: not written, the inputs are under BLOBPREFIX */
} blob_prefixes;

void blob_prefixes_init(blob_prefixes *p);
void blob_prefixes_free(blob_prefixes *p);

/* The prefixes of the Job whose metadata is at token metadata (v gives its
 * namespace, name and annotations). False, with the message, when the
 * CronJob named as its controller cannot be part of a blob path; a fixed
 * blob-prefix on a CronJob's Job is warned about (its runs share it). */
bool blob_prefixes_make(blob_prefixes *p, const struct job_view *v, int metadata,
                        admission_warnings *warnings, buffer *message);

#endif
