/* Azure Shared Key: the Authorization header of Batch and Blob Storage
 * requests signed with an account key. The two services differ in three
 * details (documented in shared_key.c); everything else is shared. */
#ifndef SHARED_KEY_H
#define SHARED_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buffer.h"

typedef enum { SHARED_KEY_BATCH, SHARED_KEY_STORAGE } shared_key_service;

typedef struct request_header {
    const char *name;
    const char *value;
} request_header;

/* A request as it will be sent: the signature covers exactly these bytes. */
typedef struct signed_request {
    const char *method;
    const char *path;  /* percent-encoded, as on the request line */
    const char *query; /* after '?', percent-encoded, or NULL */
    const request_header *headers;
    size_t header_count;
} signed_request;

bool shared_key_string_to_sign(shared_key_service service, const char *account,
                               const signed_request *request, buffer *out);
/* Appends "SharedKey <account>:<signature>". key is the decoded account key. */
bool shared_key_authorization(shared_key_service service, const char *account,
                              const uint8_t *key, size_t key_len, const signed_request *request,
                              buffer *out);

#endif
