/* A piece of JSON that never changes (a security context, the failure
 * policy): written once, the first time it is needed, by the same writer
 * functions as the rest of the patch, then copied into every patch. Safe to
 * use from every worker thread. */
#ifndef JSON_FRAGMENT_H
#define JSON_FRAGMENT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "buffer.h"
#include "json_writer.h"

typedef struct json_fragment {
    void (*write)(json_writer *w); /* writes exactly one JSON value */
    pthread_mutex_t lock;
    atomic_bool ready;
    buffer text;
} json_fragment;

#define JSON_FRAGMENT(writer) {.write = (writer), .lock = PTHREAD_MUTEX_INITIALIZER}

/* Writes the fragment as the next value of w; marks w failed when the
 * fragment could not be written (out of memory). */
void json_fragment_copy(json_writer *w, json_fragment *fragment);

#endif
