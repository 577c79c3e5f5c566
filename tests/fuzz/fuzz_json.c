/* libFuzzer target over the strict JSON reader: anything it accepts must be
 * walkable, decodable and, written back out with the JSON writer, accepted
 * again with the same shape. The reader refuses nesting past JSON_MAX_DEPTH,
 * which the writer can always write back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "json_reader.h"
#include "json_writer.h"

_Static_assert(JSON_MAX_DEPTH <= JSON_WRITER_MAX_DEPTH, "what the reader accepts, the writer writes");

/* Re-emits a value through the writer, walking containers without recursion. */
static void rewrite(const json_document *doc, json_writer *w)
{
    int end = json_next(doc, 0);
    int close_at[JSON_WRITER_MAX_DEPTH];
    json_type close_type[JSON_WRITER_MAX_DEPTH];
    int depth = 0;
    for (int t = 0; t < end;) {
        while (depth > 0 && t >= close_at[depth - 1]) {
            depth--;
            (close_type[depth] == JSON_OBJECT ? json_object_end : json_array_end)(w);
        }
        json_type type = json_type_of(doc, t);
        if (type == JSON_STRING && json_type_of(doc, t + 1) != JSON_NONE &&
            json_next(doc, t) > t + 1) { /* a member name: its value follows */
            char *key = json_string_dup(doc, t);
            json_key(w, key ? key : "");
            free(key);
            t++;
            continue;
        }
        if (type == JSON_OBJECT || type == JSON_ARRAY) {
            if (depth == JSON_WRITER_MAX_DEPTH)
                abort(); /* the reader let through nesting past its limit */
            (type == JSON_OBJECT ? json_object_begin : json_array_begin)(w);
            close_at[depth] = json_next(doc, t);
            close_type[depth++] = type;
            t++;
            continue;
        }
        const char *raw;
        size_t len;
        json_raw(doc, t, &raw, &len);
        json_raw_value(w, raw, len);
        t++;
    }
    while (depth > 0) {
        depth--;
        (close_type[depth] == JSON_OBJECT ? json_object_end : json_array_end)(w);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_document doc;
    char error[128];
    if (!json_document_parse(&doc, (const char *)data, size, 100000, error, sizeof(error)))
        return 0;
    for (int t = 0; t < doc.count; t++) {
        if (json_type_of(&doc, t) == JSON_STRING) {
            long len = json_string_length(&doc, t);
            char *s = json_string_dup(&doc, t);
            if (len < 0 || (s && (long)strlen(s) != len))
                abort();
            if (s && !json_string_equals(&doc, t, s))
                abort();
            free(s);
        }
        if (json_next(&doc, t) <= t || json_next(&doc, t) > doc.count)
            abort();
    }
    buffer out;
    buffer_init(&out, 0);
    json_writer w;
    json_writer_init(&w, &out);
    rewrite(&doc, &w);
    if (!json_writer_finish(&w))
        abort();
    json_document again;
    if (!json_document_parse(&again, out.data, out.len, 100000, error, sizeof(error)))
        abort();
    if (again.count != doc.count)
        abort();
    json_document_free(&again);
    buffer_free(&out);
    json_document_free(&doc);
    return 0;
}
