/* Admission warnings; see admission_warnings.h. */
#include "admission_warnings.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static void set_last(admission_warnings *w, char *text)
{
    free(w->items[WARNING_MAX_COUNT - 1]);
    w->items[WARNING_MAX_COUNT - 1] = text;
}

void admission_warnings_add(admission_warnings *w, const char *fmt, ...)
{
    char *text = malloc(WARNING_MAX_BYTES + 1);
    if (!text)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, WARNING_MAX_BYTES + 1, fmt, ap);
    va_end(ap);
    if (n > WARNING_MAX_BYTES) /* cut with a visible ellipsis */
        snprintf(text + WARNING_MAX_BYTES - 3, 4, "...");
    if (w->count < WARNING_MAX_COUNT) {
        w->items[w->count++] = text;
        return;
    }
    /* Full: the last slot says how many more there were. */
    free(text);
    w->dropped++;
    char *summary = malloc(WARNING_MAX_BYTES + 1);
    if (summary) {
        snprintf(summary, WARNING_MAX_BYTES + 1,
                 "batch-offload: %zu more fields are not carried to Azure Batch",
                 w->dropped + 1);
        set_last(w, summary);
    }
}

void admission_warnings_free(admission_warnings *w)
{
    for (size_t i = 0; i < w->count; i++)
        free(w->items[i]);
    w->count = 0;
    w->dropped = 0;
}
