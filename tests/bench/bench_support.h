/* Helpers shared by the C benchmark drivers in tests/bench. Header-only:
 * each driver is one program. */
#ifndef BENCH_SUPPORT_H
#define BENCH_SUPPORT_H

#include <stdio.h>

#include "buffer.h"

/* The whole file, NUL-terminated (malloc'd), or NULL. */
static inline char *bench_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    buffer b;
    buffer_init(&b, 0);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buffer_append(&b, chunk, n);
    fclose(f);
    *len = b.len;
    return buffer_ok(&b) && b.data ? b.data : NULL;
}

#endif
