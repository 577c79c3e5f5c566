/* Where a job's data lives in Blob storage and the SAS URLs its tasks use:
 *   <container>/<prefix>/input/            inputs (read + list)
 *   <container>/<prefix>/output/<task id>/ each worker's results (create + write)
 *   <container>/<prefix>/output/aggregate/ the aggregator's result
 *   <container>/<prefix>/logs/<task id>/   stdout.txt and stderr.txt of every task
 * Each SAS carries only the permissions of its use, HTTPS only (plain HTTP
 * only to a loopback emulator), and expires with the job plus a margin. */
#ifndef STORAGE_PLAN_H
#define STORAGE_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "buffer.h"
#include "http_client.h"
#include "offloader_config.h"

typedef struct storage_plan {
    bool enabled;
    buffer container_url; /* without a SAS */
    buffer read_sas;      /* query string: read + list */
    buffer write_sas;     /* query string: create + write */
    buffer prefix;        /* BLOBPREFIX */
} storage_plan;

/* An empty plan (storage disabled), safe to free. */
void storage_plan_init(storage_plan *s);
/* deadline_seconds: the job's wall-clock limit, or -1. Call on an empty plan. */
bool storage_plan_build(storage_plan *s, const offloader_config *config, int64_t deadline_seconds,
                        buffer *errors);
void storage_plan_free(storage_plan *s);

typedef enum {
    INPUTS_PRESENT,
    INPUTS_MISSING,     /* no blob under <prefix>/input/, or no container */
    INPUTS_REFUSED,     /* the SAS or the account key is wrong */
    INPUTS_UNREACHABLE, /* no usable answer within the retry policy */
    INPUTS_CANCELLED,
} input_check;

/* Lists <prefix>/input/ with the tasks' own read SAS, so a SAS that would
 * fail on the nodes fails here first. why says what was found. */
input_check storage_check_inputs(const storage_plan *s, http_client *http, buffer *why);

/* "<container url>/<prefix>/<part>" without a signature, for people. */
void storage_location(const storage_plan *s, const char *part, buffer *out);

#endif
