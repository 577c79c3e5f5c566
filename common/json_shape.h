/* Checking that a JSON document has the shape a reader expects before it
 * reads it: which members are objects, arrays or strings, which must be
 * there, what an array's elements are. A mismatch is reported with the path
 * of the field ("container.env[2].name must be a string"), so a document of
 * the wrong shape is refused naming the field rather than read as if the
 * field were absent. Members a shape does not list are not checked; a member
 * whose value is null counts as absent (as Kubernetes reads it). */
#ifndef JSON_SHAPE_H
#define JSON_SHAPE_H

#include <stdbool.h>

#include "buffer.h"
#include "json_reader.h"

typedef struct json_shape {
    const char *name; /* member name; NULL ends a list of members */
    json_type type;   /* JSON_OBJECT, JSON_ARRAY or JSON_STRING */
    bool required;
    /* An array's elements, or (with no members listed) every member value of
     * an object: their type, JSON_NONE for any. */
    json_type elements;
    /* The members of this object, or of each object element of this array. */
    const struct json_shape *members;
} json_shape;

/* Checks the members of `object` (a token of doc) against `members`. False
 * at the first mismatch, with "<path> must be an array" or "<path> is
 * missing" appended to problem, the path from `object` down. */
bool json_shape_check(const json_document *doc, int object, const json_shape *members,
                      buffer *problem);

/* Whether text is a JSON array of strings (none of them holding "\u0000"),
 * as the aggregator's arguments must be. */
bool json_text_is_string_array(const char *text);

#endif
