/* The batch-offload.io/ annotations a user puts on a Job, read and validated
 * in one place. Every rule lives in one table in offload_annotations.c. */
#ifndef OFFLOAD_ANNOTATIONS_H
#define OFFLOAD_ANNOTATIONS_H

#include <stdbool.h>

#include "buffer.h"
#include "json_reader.h"
#include "platform_settings.h"

#define ANNOTATION_PREFIX "batch-offload.io/"
#define ANNOTATION_ENABLED ANNOTATION_PREFIX "enabled"

typedef struct offload_annotations {
    char *aggregator_image;  /* NULL: no aggregator */
    char *aggregator_args;   /* JSON array of strings, or NULL */
    char *pool;              /* NULL: the platform default */
    char *priority;          /* "spot" or "dedicated"; NULL: spot */
    char *vm_size;
    char *storage_container;
    char *blob_prefix;       /* outputs and logs; NULL: see blob_prefixes.h */
    char *input_prefix;      /* inputs; NULL: see blob_prefixes.h */
    char *inputs;            /* "required" or "optional"; NULL: optional */
    char *keep_batch_job;    /* "true" or "false"; NULL: false */
} offload_annotations;

/* True when the Job asks to be offloaded: batch-offload.io/enabled with any
 * value but "false" (absent or "false": the Job is left alone). A value
 * other than "true" is then refused by offload_annotations_read(), naming
 * the allowed values, so a typo is not silently left on the cluster. */
bool offload_annotations_requested(const json_document *doc, int annotations);

/* Reads and checks every batch-offload.io/ annotation. On a bad one returns
 * false with a message naming the annotation, its value and what is allowed. */
bool offload_annotations_read(offload_annotations *a, const json_document *doc, int annotations,
                              const platform_settings *platform, buffer *message);
void offload_annotations_free(offload_annotations *a);

/* Appends value as a quoted, escaped string cut to a readable length, for
 * messages that must name a user's value. */
void append_quoted_value(buffer *out, const char *value);

#endif
