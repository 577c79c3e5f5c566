/* Azure Shared Key: the Authorization header of Batch and Blob Storage
 * requests signed with an account key. The two services differ in three
 * details (documented in shared_key.c); everything else is shared. */
#ifndef SHARED_KEY_H
#define SHARED_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buffer.h"
#include "signed_request.h"

typedef enum { SHARED_KEY_BATCH, SHARED_KEY_STORAGE } shared_key_service;

bool shared_key_string_to_sign(shared_key_service service, const char *account,
                               const signed_request *request, buffer *out);
/* Appends "SharedKey <account>:<signature>". key is the decoded account key. */
bool shared_key_authorization(shared_key_service service, const char *account,
                              const uint8_t *key, size_t key_len, const signed_request *request,
                              buffer *out);

#endif
