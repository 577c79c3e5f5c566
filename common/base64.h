/* Standard base64 (RFC 4648, with padding): AdmissionReview patches, Shared
 * Key secrets and signatures all use it. */
#ifndef BASE64_H
#define BASE64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buffer.h"

void base64_encode_into(buffer *out, const void *data, size_t len);
/* Strict decode: padding required, no whitespace. False on any fault. */
bool base64_decode(const char *text, size_t len, uint8_t *out, size_t out_cap, size_t *out_len);

#endif
