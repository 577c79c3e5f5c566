/* Removing secrets from any text before it is printed: SAS signatures,
 * account keys, Shared Key and Bearer credentials, and every secret value the
 * program registered (keys and passwords it read from its environment). */
#ifndef REDACT_H
#define REDACT_H

#include <stddef.h>

#include "buffer.h"

#define REDACTED "REDACTED"

/* Registers a secret value; later redactions mask every occurrence. Values
 * shorter than 4 bytes are ignored (they would mask ordinary text). Call
 * before starting threads. */
void redact_register_secret(const char *value);
void redact_forget_secrets(void);
/* Appends text to out with every secret masked. */
void redact_into(buffer *out, const char *text, size_t len);

#endif
