/* Reading untrusted JSON: one linear pass checks the whole grammar (RFC 8259:
 * separators, number grammar, escapes, UTF-8, one top-level value), the
 * nesting depth and the token count, then jsmn (strict mode, parent links)
 * tokenizes the text it now knows to be valid, into one allocation of the
 * exact size. Callers never walk jsmn tokens by hand: they use the lookups
 * below, which work on token indexes into a parsed document. */
#ifndef JSON_READER_H
#define JSON_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef enum {
    JSON_NONE = 0, /* "no such token": lookups return -1, type of -1 is NONE */
    JSON_OBJECT,
    JSON_ARRAY,
    JSON_STRING,
    JSON_NUMBER,
    JSON_TRUE,
    JSON_FALSE,
    JSON_NULL,
} json_type;

/* Objects and arrays nest at most this deep; deeper is refused before jsmn
 * runs. jsmn closes a container by walking parent links up from the last
 * token, so its time is O(bytes x depth): a bounded depth keeps it linear.
 * 64 is three times the deepest a Kubernetes object gets: the batch/v1 Job
 * schema nests 14 levels (spec.template.spec.volumes[].projected.sources[]
 * .clusterTrustBundle.labelSelector.matchExpressions[].values[]), which is
 * 16 inside an AdmissionReview; managedFields' fieldsV1 mirrors such paths,
 * one object per field or list item, under request.object.metadata
 * .managedFields[].fieldsV1: at most about 20. Go's encoding/json stops at
 * 10,000; the JSON writer stops at the same 64 (JSON_WRITER_MAX_DEPTH). */
#define JSON_MAX_DEPTH 64

/* The token limit (values, keys and containers) for a short JSON value
 * carried in a setting or an annotation: the aggregator's arguments, say. */
#define JSON_TOKENS_FOR_A_VALUE 4096

struct json_token; /* private: a jsmn token */

typedef struct json_document {
    const char *text; /* borrowed: must outlive the document */
    size_t length;
    struct json_token *tokens;
    int *subtree_end; /* index of the first token after each token's subtree */
    uint8_t *escaped; /* per token: a string whose text holds escapes (same block) */
    int count;
} json_document;

/* Parses text; on failure returns false and writes a one-line reason
 * ("invalid JSON at byte 17: expected ',' or '}'", "invalid JSON at byte 64:
 * nested deeper than 64 levels") into error. More than max_tokens values
 * (every object, array, member name, string, number and literal counts) is
 * refused as "too many values" before anything is allocated. */
bool json_document_parse(json_document *doc, const char *text, size_t length, int max_tokens,
                         char *error, size_t error_size);
void json_document_free(json_document *doc);

json_type json_type_of(const json_document *doc, int token);
/* The value of member `key` in object `object`, or -1. */
int json_object_get_n(const json_document *doc, int object, const char *key, size_t key_len);
/* Inline, so a literal key's length is known at compile time. */
static inline int json_object_get(const json_document *doc, int object, const char *key)
{
    return json_object_get_n(doc, object, key, strlen(key));
}
/* Follows a NULL-terminated list of member names from `from`; -1 if any is missing. */
int json_lookup(const json_document *doc, int from, ...) __attribute__((sentinel));
/* Number of members or elements of a container, 0 otherwise. */
int json_length(const json_document *doc, int container);
/* The token following `token`'s whole subtree. */
int json_next(const json_document *doc, int token);

/* Iteration over a container: for objects `item` is the key (value is key + 1);
 * for arrays it is the element. */
typedef struct json_iterator {
    const json_document *doc;
    int next;
    int remaining;
} json_iterator;
json_iterator json_iterate(const json_document *doc, int container);
bool json_iterator_next(json_iterator *it, int *item);

/* Strings are compared and copied decoded (escapes resolved). */
bool json_string_matches_n(const json_document *doc, int token, const char *expected, size_t n,
                           bool prefix);
static inline bool json_string_equals(const json_document *doc, int token, const char *expected)
{
    return json_string_matches_n(doc, token, expected, strlen(expected), false);
}
static inline bool json_string_has_prefix(const json_document *doc, int token, const char *prefix)
{
    return json_string_matches_n(doc, token, prefix, strlen(prefix), true);
}
/* Decoded length in bytes, or -1 if not a string. */
long json_string_length(const json_document *doc, int token);
/* malloc'd NUL-terminated copy; NULL if not a string or it holds "\u0000". */
char *json_string_dup(const json_document *doc, int token);
/* Reads an integer within [min, max]; false if not an integer or out of range. */
bool json_read_int64(const json_document *doc, int token, int64_t min, int64_t max, int64_t *out);
bool json_is_true(const json_document *doc, int token);
/* The exact source text of a value (strings include their quotes). */
void json_raw(const json_document *doc, int token, const char **start, size_t *length);

#endif
