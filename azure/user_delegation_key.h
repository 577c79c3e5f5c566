/* A user delegation key: what Blob storage gives an Entra identity (with the
 * Storage Blob Delegator permission) to sign SAS without an account key. */
#ifndef USER_DELEGATION_KEY_H
#define USER_DELEGATION_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buffer.h"
#include "http_client.h"

typedef struct user_delegation_key {
    char object_id[64];  /* SignedOid -> skoid */
    char tenant_id[64];  /* SignedTid -> sktid */
    char start[32];      /* SignedStart -> skt */
    char expiry[32];     /* SignedExpiry -> ske */
    char service[8];     /* SignedService -> sks */
    char version[32];    /* SignedVersion -> skv */
    uint8_t value[64];   /* Value, decoded */
    size_t value_len;
} user_delegation_key;

/* Reads the service's XML answer; false when a field is missing or bad. */
bool user_delegation_key_parse(const char *xml, size_t len, user_delegation_key *key);

/* POST {blob service}/?restype=service&comp=userdelegationkey with a storage
 * token, for a key valid from start to expiry (at most 7 days). */
bool user_delegation_key_request(http_client *http, const char *service_url, const char *token,
                                 time_t start, time_t expiry, user_delegation_key *key,
                                 buffer *error);

#endif
