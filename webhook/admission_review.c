/* AdmissionReview decoding and encoding; see admission_review.h. */
#include "admission_review.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "json_writer.h"

#define MAX_UID_LENGTH 128

static const char *const api_versions[] = {
    [ADMISSION_V1] = "admission.k8s.io/v1",
    [ADMISSION_V1BETA1] = "admission.k8s.io/v1beta1",
};

/* Copies an optional string member; false only when present but not a string. */
static bool optional_string(const json_document *doc, int object, const char *key, char **out)
{
    int t = json_object_get(doc, object, key);
    *out = NULL;
    if (t < 0 || json_type_of(doc, t) == JSON_NULL)
        return true;
    *out = json_string_dup(doc, t);
    return *out != NULL;
}

static bool kind_is_job(const json_document *doc, int request)
{
    int kind = json_object_get(doc, request, "kind");
    return json_string_equals(doc, json_object_get(doc, kind, "group"), "batch") &&
           json_string_equals(doc, json_object_get(doc, kind, "version"), "v1") &&
           json_string_equals(doc, json_object_get(doc, kind, "kind"), "Job");
}

bool admission_request_decode(admission_request *r, const char *body, size_t len, char *error,
                              size_t error_size)
{
    memset(r, 0, sizeof(*r));
    r->object = -1;
    if (!json_document_parse(&r->doc, body, len, ADMISSION_MAX_TOKENS, error, error_size))
        return false;
    const json_document *doc = &r->doc;
    const char *problem = NULL;

    int api_version = json_object_get(doc, 0, "apiVersion");
    if (json_string_equals(doc, api_version, api_versions[ADMISSION_V1]))
        r->version = ADMISSION_V1;
    else if (json_string_equals(doc, api_version, api_versions[ADMISSION_V1BETA1]))
        r->version = ADMISSION_V1BETA1;
    else {
        problem = "apiVersion must be admission.k8s.io/v1 or admission.k8s.io/v1beta1";
        goto error;
    }
    if (!json_string_equals(doc, json_object_get(doc, 0, "kind"), "AdmissionReview")) {
        problem = "kind must be AdmissionReview";
        goto error;
    }
    int request = json_object_get(doc, 0, "request");
    if (json_type_of(doc, request) != JSON_OBJECT) {
        problem = "request is missing or not an object";
        goto error;
    }
    int uid = json_object_get(doc, request, "uid");
    long uid_len = json_string_length(doc, uid);
    if (uid_len < 1 || uid_len > MAX_UID_LENGTH || !(r->uid = json_string_dup(doc, uid))) {
        problem = "request.uid must be a non-empty string of at most 128 bytes";
        goto error;
    }
    if (!optional_string(doc, request, "operation", &r->operation) || !r->operation) {
        problem = "request.operation must be a string";
        goto error;
    }
    if (!optional_string(doc, request, "namespace", &r->namespace_name) ||
        !optional_string(doc, request, "name", &r->name)) {
        problem = "request.namespace and request.name must be strings";
        goto error;
    }
    int dry_run = json_object_get(doc, request, "dryRun");
    r->dry_run = json_is_true(doc, dry_run);
    int object = json_object_get(doc, request, "object");
    json_type object_type = json_type_of(doc, object);
    if (object_type == JSON_OBJECT)
        r->object = object;
    else if (object_type != JSON_NONE && object_type != JSON_NULL) {
        problem = "request.object must be an object";
        goto error;
    }
    r->is_job = kind_is_job(doc, request);
    return true;
error:
    snprintf(error, error_size, "not an AdmissionReview request: %s", problem);
    admission_request_free(r);
    return false;
}

void admission_request_free(admission_request *r)
{
    json_document_free(&r->doc);
    free(r->uid);
    free(r->namespace_name);
    free(r->name);
    free(r->operation);
    r->uid = r->namespace_name = r->name = r->operation = NULL;
}

static const char *status_reason(int code)
{
    switch (code) {
    case 400:
        return "BadRequest";
    case 403:
        return "Forbidden";
    case 422:
        return "Invalid";
    default:
        return "InternalError";
    }
}

void admission_response_encode(buffer *out, const admission_request *r,
                               const admission_response *response)
{
    json_writer w;
    json_writer_init(&w, out);
    /* Grown once, not doubled up to size: mostly the patch in base64. */
    buffer_reserve(out, 512 + response->patch_len / 3 * 4 + 4);
    json_object_begin(&w);
    json_member_string(&w, "apiVersion", api_versions[r->version]);
    json_member_string(&w, "kind", "AdmissionReview");
    json_key(&w, "response");
    json_object_begin(&w);
    json_member_string(&w, "uid", r->uid);
    json_member_bool(&w, "allowed", response->allowed);
    if (!response->allowed) {
        json_key(&w, "status");
        json_object_begin(&w);
        json_member_string(&w, "status", "Failure");
        json_member_int(&w, "code", response->status_code);
        json_member_string(&w, "reason", status_reason(response->status_code));
        json_member_string(&w, "message", response->message ? response->message : "denied");
        json_object_end(&w);
    }
    if (response->patch) {
        json_member_string(&w, "patchType", "JSONPatch");
        json_key(&w, "patch");
        /* base64 of the patch, written straight into the output as a string */
        json_raw_value(&w, "\"", 1);
        base64_encode_into(out, response->patch, response->patch_len);
        buffer_append_char(out, '"');
    }
    if (response->warning_count) {
        json_key(&w, "warnings");
        json_array_begin(&w);
        for (size_t i = 0; i < response->warning_count; i++)
            json_string(&w, response->warnings[i]);
        json_array_end(&w);
    }
    json_object_end(&w);
    json_object_end(&w);
}
