/* What one Batch operation came to: the status, the service's error in its
 * own shape (code, message, the values that name the property), or why
 * there was no answer; and the one reading of it (success, refusal,
 * outage) every caller shares. */
#ifndef BATCH_RESULT_H
#define BATCH_RESULT_H

#include <stdbool.h>

#include "buffer.h"
#include "http_client.h"
#include "json_reader.h"

/* What one operation came to. status 0: no answer within the retry policy. */
typedef struct batch_result {
    long status;
    bool gave_up;        /* transient failures past the retry policy */
    char code[64];       /* the service's error code, e.g. "JobExists" */
    char message[512];
    char transport[256]; /* why there was no answer */
} batch_result;

/* Fills result from a finished exchange. */
void batch_result_read(const http_exchange *x, batch_result *result);
/* Code and message of a BatchError object (token error of doc), with its
 * values ("PropertyName: x; Reason: y") after the message's first line. */
void batch_error_read(const json_document *doc, int error, batch_result *result);
bool batch_result_ok(const batch_result *r);
/* No answer, or only transient ones until the retries ran out: Azure is
 * unavailable rather than refusing (retry_policy.h's answer_classify). */
bool batch_result_outage(const batch_result *r);
/* "403 AuthenticationFailed: <message>" or the transport error, redacted by the logger. */
void batch_result_describe(const batch_result *r, buffer *out);

#endif
