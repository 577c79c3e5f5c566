/* Service shared access signatures for Blob storage, signed with the
 * account key: the URLs Batch nodes use to download inputs and upload
 * outputs, each limited to what its use needs. */
#ifndef SAS_H
#define SAS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buffer.h"

struct user_delegation_key; /* user_delegation_key.h */

typedef struct sas_grant {
    const char *account;
    const uint8_t *key;
    size_t key_len;
    const char *container;
    const char *blob;        /* NULL: a container SAS (sr=c); else a blob SAS (sr=b) */
    const char *permissions; /* in the canonical order "racwdxltmeop", e.g. "rl", "cw" */
    time_t start;            /* 0: none */
    time_t expiry;
    bool allow_http;         /* only for loopback emulators: spr=https,http */
    /* A user delegation SAS (Entra ID, no account key) when set: signed with
     * the delegation key instead of `key`. */
    const struct user_delegation_key *delegation;
} sas_grant;

/* The string-to-sign, sv 2020-12-06 and later: 16 fields for a service SAS,
 * 24 for a user delegation SAS. */
bool sas_string_to_sign(const sas_grant *grant, buffer *out);
/* Appends the query string: sv, st, se, sr, sp, spr, the delegation key's
 * skoid..skv for a user delegation SAS, sig (all percent-encoded). */
bool sas_query_string(const sas_grant *grant, buffer *out);

#endif
