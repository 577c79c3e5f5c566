/* The warnings an admission response carries back to kubectl: each at most
 * 256 bytes (what the API server passes on untruncated), a bounded number. */
#ifndef ADMISSION_WARNINGS_H
#define ADMISSION_WARNINGS_H

#include <stddef.h>

#define WARNING_MAX_BYTES 256
#define WARNING_MAX_COUNT 16

typedef struct admission_warnings {
    char *items[WARNING_MAX_COUNT];
    size_t count;
    size_t dropped; /* warnings past the limit, summarized in the last item */
} admission_warnings;

void admission_warnings_add(admission_warnings *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void admission_warnings_free(admission_warnings *w);

#endif
