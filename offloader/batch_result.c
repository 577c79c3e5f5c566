/* Reading a Batch operation's outcome; see batch_result.h. */
#include "batch_result.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An error body: code, message and a few values. */
#define ERROR_BODY_TOKENS 4096

void batch_error_read(const json_document *doc, int error, batch_result *r)
{
    char *code = json_string_dup(doc, json_object_get(doc, error, "code"));
    int message = json_object_get(doc, error, "message");
    char *text = json_string_dup(doc, json_type_of(doc, message) == JSON_OBJECT
                                          ? json_object_get(doc, message, "value")
                                          : message);
    snprintf(r->code, sizeof(r->code), "%s", code ? code : "");
    buffer details;
    buffer_init(&details, 0);
    if (text) /* the service appends "RequestId:... Time:..." on new lines */
        buffer_append(&details, text, strcspn(text, "\r\n"));
    /* values say which property and why: often the only useful part */
    json_iterator it = json_iterate(doc, json_object_get(doc, error, "values"));
    int value;
    for (size_t n = 0; json_iterator_next(&it, &value); n++) {
        char *key = json_string_dup(doc, json_object_get(doc, value, "key"));
        char *item = json_string_dup(doc, json_object_get(doc, value, "value"));
        if (key && item)
            buffer_appendf(&details, "%s%s: %.*s", n == 0 ? " (" : "; ", key,
                           (int)strcspn(item, "\r\n"), item);
        free(key);
        free(item);
        if (json_length(doc, json_object_get(doc, error, "values")) == (int)n + 1)
            buffer_append_char(&details, ')');
    }
    snprintf(r->message, sizeof(r->message), "%s", buffer_ok(&details) ? buffer_cstr(&details) : "");
    buffer_free(&details);
    free(code);
    free(text);
}

void batch_result_read(const http_exchange *x, batch_result *r)
{
    memset(r, 0, sizeof(*r));
    r->status = x->status;
    r->gave_up = x->gave_up;
    snprintf(r->transport, sizeof(r->transport), "%s", x->error);
    if (x->status < 400 || x->response.len == 0)
        return;
    json_document doc;
    char error[64];
    if (!json_document_parse(&doc, x->response.data, x->response.len, ERROR_BODY_TOKENS, error,
                             sizeof(error)))
        return;
    batch_error_read(&doc, 0, r);
    json_document_free(&doc);
}

bool batch_result_ok(const batch_result *r)
{
    return answer_classify(r->status) == ANSWER_SUCCESS;
}

bool batch_result_outage(const batch_result *r)
{
    return r->gave_up || answer_classify(r->status) == ANSWER_TRANSIENT;
}

void batch_result_describe(const batch_result *r, buffer *out)
{
    if (r->status == 0) {
        buffer_appendf(out, "no answer: %s", r->transport[0] ? r->transport : "unknown error");
        return;
    }
    buffer_appendf(out, "HTTP %ld", r->status);
    if (r->code[0])
        buffer_appendf(out, " %s", r->code);
    if (r->message[0])
        buffer_appendf(out, ": %s", r->message);
    if (r->gave_up)
        buffer_append_str(out, " (still failing after retries)");
}
