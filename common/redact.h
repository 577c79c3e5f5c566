/* Removing secrets from any text before it is printed: SAS signatures,
 * account keys, Shared Key and Bearer credentials, the password of any URL
 * (scheme://user:password@host), and every secret value the program
 * registered (keys, passwords and tokens it read), however many. */
#ifndef REDACT_H
#define REDACT_H

#include <stddef.h>
#include <stdio.h>

#include "buffer.h"

#define REDACTED "REDACTED"

/* Registers a secret value; later redactions mask every occurrence, and of
 * each of its lines when it has several. Values shorter than 4 bytes are
 * ignored (they would mask ordinary text). There is no limit on their
 * number. Not thread-safe: register before starting threads that print (the
 * offloader has one thread; the webhook registers none). */
void redact_register_secret(const char *value);
void redact_forget_secrets(void);
/* Appends text to out with every secret masked. */
void redact_into(buffer *out, const char *text, size_t len);
/* Prints text to out with every secret masked: for output that is not a log line. */
void redact_print(FILE *out, const char *text);

#endif
