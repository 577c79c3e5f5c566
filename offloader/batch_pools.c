/* Batch pools: a pool's state and resize errors, its autoscale, and the
 * images the account supports (what preflight.c and pool_watch.c ask before
 * and while tasks wait); see batch_client.h. */
#include "batch_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_operation.h"
#include "json_writer.h"
#include "url.h"

static void pool_path(const char *pool_id, const char *suffix, buffer *path)
{
    buffer_append_str(path, "/pools/");
    url_encode_into(path, pool_id, false);
    buffer_append_str(path, suffix);
}

static int64_t int_or_zero(const json_document *doc, int token)
{
    int64_t value = 0;
    json_read_int64(doc, token, 0, INT64_MAX, &value);
    return value;
}

static void read_resize_error(const json_document *doc, int e, pool_resize_error *out)
{
    char *code = json_string_dup(doc, json_object_get(doc, e, "code"));
    char *message = json_string_dup(doc, json_object_get(doc, e, "message"));
    buffer values;
    buffer_init(&values, 0);
    batch_append_name_values(doc, json_object_get(doc, e, "values"), &values);
    snprintf(out->code, sizeof(out->code), "%s", code ? code : "?");
    snprintf(out->message, sizeof(out->message), "%s", message ? message : "");
    snprintf(out->values, sizeof(out->values), "%s", buffer_cstr(&values));
    buffer_free(&values);
    free(code);
    free(message);
}

static void read_pool(const json_document *doc, batch_pool_info *pool)
{
    pool->deleting = json_string_equals(doc, json_object_get(doc, 0, "state"), "deleting");
    pool->has_container_configuration =
        json_lookup(doc, 0, "virtualMachineConfiguration", "containerConfiguration", NULL) >= 0;
    pool->auto_scale = json_is_true(doc, json_object_get(doc, 0, "enableAutoScale"));
    pool->autoscale_formula = json_string_dup(doc, json_object_get(doc, 0, "autoScaleFormula"));
    pool->current_dedicated = int_or_zero(doc, json_object_get(doc, 0, "currentDedicatedNodes"));
    pool->current_spot = int_or_zero(doc, json_object_get(doc, 0, "currentLowPriorityNodes"));
    json_iterator it = json_iterate(doc, json_object_get(doc, 0, "resizeErrors"));
    int e;
    while (pool->error_count < POOL_RESIZE_ERRORS_KEPT && json_iterator_next(&it, &e))
        read_resize_error(doc, e, &pool->errors[pool->error_count++]);
}

bool batch_get_pool(batch_client *b, const char *pool_id, batch_pool_info *pool, batch_result *r)
{
    memset(pool, 0, sizeof(*pool));
    buffer path;
    buffer_init(&path, 0);
    pool_path(pool_id, "", &path);
    http_exchange x;
    batch_exchange_init(b, &x, "GET", buffer_cstr(&path),
                        "%24select=id,state,virtualMachineConfiguration,enableAutoScale,"
                        "autoScaleFormula,currentDedicatedNodes,currentLowPriorityNodes,"
                        "resizeErrors");
    buffer_free(&path);
    bool finished = batch_run(b, &x, r);
    json_document doc;
    char error[64];
    if (finished && batch_result_ok(r)) {
        if (json_document_parse(&doc, x.response.data, x.response.len, RESOURCE_TOKENS, error,
                                sizeof(error))) {
            read_pool(&doc, pool);
            json_document_free(&doc);
        } else { /* an answer we cannot read counts as none */
            r->status = 0;
            snprintf(r->transport, sizeof(r->transport), "the pool is not JSON: %s", error);
        }
    }
    http_exchange_free(&x);
    return finished;
}

void batch_pool_info_free(batch_pool_info *pool)
{
    free(pool->autoscale_formula);
    pool->autoscale_formula = NULL;
}

void batch_pool_describe_errors(const batch_pool_info *pool, buffer *out)
{
    for (size_t i = 0; i < pool->error_count; i++) {
        const pool_resize_error *e = &pool->errors[i];
        buffer_appendf(out, "%s%s: %s", i ? "; " : "", e->code, e->message);
        if (e->values[0])
            buffer_appendf(out, " (%s)", e->values);
    }
}

bool batch_enable_pool_autoscale(batch_client *b, const char *pool_id, const char *formula,
                                 const char *evaluation_interval, batch_result *r)
{
    buffer path, body;
    buffer_init(&path, 0);
    buffer_init(&body, 0);
    pool_path(pool_id, "/enableautoscale", &path);
    json_writer w;
    json_writer_init(&w, &body);
    json_object_begin(&w);
    json_member_string(&w, "autoScaleFormula", formula);
    json_member_string(&w, "autoScaleEvaluationInterval", evaluation_interval);
    json_object_end(&w);
    http_exchange x;
    batch_exchange_init(b, &x, "POST", buffer_cstr(&path), NULL);
    buffer_append(&x.body, body.data, body.len);
    bool finished = batch_run(b, &x, r);
    http_exchange_free(&x);
    buffer_free(&path);
    buffer_free(&body);
    return finished;
}

typedef struct image_visitor {
    void (*visit)(void *context, const supported_image *image);
    void *context;
} image_visitor;

static void copy_string(const json_document *doc, int token, char *out, size_t size)
{
    char *value = json_string_dup(doc, token);
    snprintf(out, size, "%s", value ? value : "");
    free(value);
}

static void visit_images(void *context, const json_document *doc, int value)
{
    image_visitor *v = context;
    json_iterator it = json_iterate(doc, value);
    int element;
    while (json_iterator_next(&it, &element)) {
        supported_image image;
        memset(&image, 0, sizeof(image));
        int reference = json_object_get(doc, element, "imageReference");
        copy_string(doc, json_object_get(doc, reference, "publisher"), image.publisher,
                    sizeof(image.publisher));
        copy_string(doc, json_object_get(doc, reference, "offer"), image.offer,
                    sizeof(image.offer));
        copy_string(doc, json_object_get(doc, reference, "sku"), image.sku, sizeof(image.sku));
        copy_string(doc, json_object_get(doc, element, "nodeAgentSKUId"), image.node_agent,
                    sizeof(image.node_agent));
        copy_string(doc, json_object_get(doc, element, "batchSupportEndOfLife"),
                    image.end_of_life, sizeof(image.end_of_life));
        json_iterator capabilities = json_iterate(doc, json_object_get(doc, element,
                                                                       "capabilities"));
        int capability;
        while (json_iterator_next(&capabilities, &capability))
            image.docker_compatible |= json_string_equals(doc, capability, "DockerCompatible");
        v->visit(v->context, &image);
    }
}

bool batch_list_supported_images(batch_client *b,
                                 void (*visit)(void *context, const supported_image *image),
                                 void *context, batch_result *r)
{
    image_visitor v = {visit, context};
    return batch_list_pages(b, "/supportedimages", "maxresults=1000", visit_images, &v, r);
}
