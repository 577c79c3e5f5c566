/* Writing JSON into a buffer: commas and escaping are handled here so no
 * caller ever formats JSON by hand. */
#ifndef JSON_WRITER_H
#define JSON_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "buffer.h"

#define JSON_WRITER_MAX_DEPTH 64

typedef struct json_writer {
    buffer *out;
    int depth;
    bool after_key;
    bool failed; /* nesting misuse; output faults are in out->failed */
    uint8_t has_items[JSON_WRITER_MAX_DEPTH];
} json_writer;

void json_writer_init(json_writer *w, buffer *out);
/* True when the document is complete and nothing failed. */
bool json_writer_finish(const json_writer *w);

void json_object_begin(json_writer *w);
void json_object_end(json_writer *w);
void json_array_begin(json_writer *w);
void json_array_end(json_writer *w);
void json_key_n(json_writer *w, const char *key, size_t n);
void json_string_n(json_writer *w, const char *s, size_t n);
void json_int(json_writer *w, int64_t v);
void json_bool(json_writer *w, bool v);
void json_null(json_writer *w);
/* A string written in pieces, each split between characters (never inside
 * a UTF-8 sequence): json_string_begin, json_string_part..., json_string_end. */
void json_string_begin(json_writer *w);
void json_string_part(json_writer *w, const char *s, size_t n);
void json_string_end(json_writer *w);
/* Inserts text that is already one valid JSON value (from json_raw). */
void json_raw_value(json_writer *w, const char *text, size_t n);

/* Members: json_key + value in one call. */
void json_member_int(json_writer *w, const char *key, int64_t value);
void json_member_bool(json_writer *w, const char *key, bool value);

/* Inline so that the length of a literal (most keys and many values) is
 * known at compile time instead of counted on every call. */
static inline void json_key(json_writer *w, const char *key)
{
    json_key_n(w, key, strlen(key));
}

static inline void json_string(json_writer *w, const char *s)
{
    json_string_n(w, s, strlen(s));
}

static inline void json_member_string(json_writer *w, const char *key, const char *value)
{
    json_key(w, key);
    json_string(w, value);
}

/* Appends s to out as the inside of a JSON string (no quotes). Invalid UTF-8
 * becomes U+FFFD so the output is always valid JSON. */
void json_escape_into(buffer *out, const char *s, size_t n);

#endif
