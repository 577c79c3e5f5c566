/* Where a job's data lives in Blob storage and the SAS URLs its tasks use:
 *   <container>/<input prefix>/input/      inputs (read + list), may be empty
 *   <container>/<prefix>/output/<task id>/ each worker's results (create + write)
 *   <container>/<prefix>/output/aggregate/ the aggregator's result
 *   <container>/<prefix>/logs/<task id>/   stdout.txt and stderr.txt of every task
 * The input prefix is INPUTPREFIX, or BLOBPREFIX when unset: a CronJob's runs
 * share their inputs and each keeps its outputs and logs under its own prefix.
 * Each SAS carries only the permissions of its use, HTTPS only (plain HTTP
 * only to a loopback emulator), and expires with the job plus a margin. With
 * a key they are service SAS; with Entra ID, user delegation SAS. */
#ifndef STORAGE_PLAN_H
#define STORAGE_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "buffer.h"
#include "entra_token.h"
#include "http_client.h"
#include "offloader_config.h"

typedef struct storage_plan {
    bool enabled;
    buffer container_url; /* without a SAS */
    buffer service_url;   /* the account's Blob service */
    buffer read_sas;      /* query string: read + list */
    buffer write_sas;     /* query string: create + write */
    buffer prefix;        /* BLOBPREFIX: outputs and logs */
    buffer input_prefix;  /* INPUTPREFIX, else BLOBPREFIX */
    bool has_inputs;      /* false: the workers get no input resource files */
} storage_plan;

/* An empty plan (storage disabled), safe to free. */
void storage_plan_init(storage_plan *s);
void storage_plan_free(storage_plan *s);
/* Where the job's data is in the account's storage; disabled when the
 * account has none. Replaces whatever the plan held. */
void storage_plan_layout(storage_plan *s, const offloader_config *c, const azure_account *a);
/* Service SAS signed with the account key (no request). deadline: seconds, or -1. */
bool storage_plan_sign_with_key(storage_plan *s, const offloader_config *c,
                                const azure_account *a, int64_t deadline, buffer *errors);
/* User delegation SAS: a storage token, then a delegation key from the account. */
bool storage_plan_sign_with_identity(storage_plan *s, const offloader_config *c,
                                     const azure_account *a, int64_t deadline,
                                     http_client *http, entra_tokens *tokens, buffer *errors);
/* --dry-run with Entra ID: the SAS can only be made at run time. */
void storage_plan_sign_placeholder(storage_plan *s);

typedef enum {
    INPUTS_PRESENT,
    INPUTS_MISSING,     /* no blob under <input prefix>/input/ */
    INPUTS_NO_CONTAINER, /* outputs and logs could not be written either */
    INPUTS_REFUSED,     /* the SAS or the account key is wrong */
    INPUTS_UNREACHABLE, /* no usable answer within the retry policy */
    INPUTS_CANCELLED,
} input_check;

/* Lists <input prefix>/input/ with the tasks' own read SAS, so a SAS that
 * would fail on the nodes fails here first. why says what was found. */
input_check storage_check_inputs(const storage_plan *s, http_client *http, buffer *why);

/* "<container url>/<prefix>/<part>" without a signature, for people. */
void storage_location(const storage_plan *s, const char *part, buffer *out);
/* "<container url>/<input prefix>/input/", likewise. */
void storage_input_location(const storage_plan *s, buffer *out);

#endif
