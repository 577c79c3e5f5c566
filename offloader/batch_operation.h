/* What the files of the Batch client share (batch_client.c: the exchange,
 * the job and its lists; batch_pools.c; batch_tasks.c). Not for its callers:
 * they use batch_client.h. */
#ifndef BATCH_OPERATION_H
#define BATCH_OPERATION_H

#include <stdbool.h>

#include "batch_client.h"
#include "buffer.h"
#include "http_client.h"
#include "json_reader.h"

/* Token limit for one job or pool as the service answers it. */
#define RESOURCE_TOKENS 65536

/* Runs one operation to its end; false only when cancelled. */
bool batch_run(batch_client *b, http_exchange *x, batch_result *r);

/* Appends /jobs/{the client's job}{suffix}, the id URL-encoded. */
void batch_job_path(batch_client *b, buffer *path, const char *suffix);

/* GETs path?query and every further page, handing each page's "value"
 * to visit_page; false only when cancelled. */
bool batch_list_pages(batch_client *b, const char *path, const char *query,
                      void (*visit_page)(void *context, const json_document *doc, int value),
                      void *context, batch_result *r);

/* "name: value; ..." of a list of NameValuePair (how Batch details its errors). */
void batch_append_name_values(const json_document *doc, int list, buffer *out);

#endif
