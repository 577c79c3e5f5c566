/* Validation of the batch-offload.io/ annotations; see offload_annotations.h.
 *
 * One table row per annotation: its name, where the value goes, and the check
 * that says what is allowed. Unknown names under the prefix are refused so a
 * typo ("batch-offload.io/prority") is caught at admission, not ignored. */
#include "offload_annotations.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "azure_names.h"
#include "json_shape.h"
#include "json_writer.h"
#include "offload_contract.h"

#define QUOTED_VALUE_MAX 96

/* A check appends what is allowed to `allowed` and returns false when the
 * value is not acceptable. */
typedef bool (*annotation_check)(const char *value, const platform_settings *platform,
                                 buffer *allowed);

static bool check_image(const char *value, const platform_settings *platform, buffer *allowed)
{
    (void)platform;
    buffer_append_str(allowed, "a container image reference such as "
                               "\"registry.example.com/team/aggregator:1.2\"");
    return image_reference_is_valid(value);
}

static bool check_string_array(const char *value, const platform_settings *platform,
                               buffer *allowed)
{
    (void)platform;
    buffer_append_str(allowed, "a JSON array of strings such as [\"--top\", \"10\"]");
    return json_text_is_string_array(value);
}

static bool check_pool(const char *value, const platform_settings *platform, buffer *allowed)
{
    if (!azure_batch_id_is_valid(value)) {
        buffer_append_str(allowed, "a Batch pool ID: 1-64 letters, digits, '-' or '_'");
        return false;
    }
    if (platform->allowed_pools[0] && !list_contains(platform->allowed_pools, value)) {
        buffer_appendf(allowed, "one of the pools this cluster allows: %s",
                       platform->allowed_pools);
        return false;
    }
    return true;
}

static bool check_priority(const char *value, const platform_settings *platform, buffer *allowed)
{
    (void)platform;
    buffer_append_str(allowed, OFFLOAD_PRIORITY_NAMES);
    return offload_priority_is_valid(value);
}

static bool check_vm_size(const char *value, const platform_settings *platform, buffer *allowed)
{
    (void)platform;
    buffer_append_str(allowed, "an Azure VM size such as \"Standard_D2s_v3\"");
    return azure_vm_size_is_valid(value);
}

static bool check_container(const char *value, const platform_settings *platform,
                            buffer *allowed)
{
    (void)platform;
    buffer_append_str(allowed, "a Blob container name: 3-63 lowercase letters, digits and "
                               "single hyphens, starting and ending with a letter or digit");
    return azure_container_name_is_valid(value);
}

static bool check_blob_prefix(const char *value, const platform_settings *platform,
                              buffer *allowed)
{
    (void)platform;
    buffer_append_str(allowed, "a path of 1-512 letters, digits and \"-._~/\" without leading, "
                               "trailing or double '/' and without \".\" or \"..\" segments");
    return azure_blob_prefix_is_valid(value);
}

static bool check_inputs(const char *value, const platform_settings *platform, buffer *allowed)
{
    (void)platform;
    buffer_append_str(allowed, OFFLOAD_INPUTS_NAMES);
    return offload_inputs_is_valid(value);
}

static bool check_boolean(const char *value, const platform_settings *platform, buffer *allowed)
{
    (void)platform;
    buffer_append_str(allowed, "\"true\" or \"false\"");
    return strcmp(value, "true") == 0 || strcmp(value, "false") == 0;
}

static const struct annotation_rule {
    const char *name; /* the whole annotation name */
    ptrdiff_t field;  /* offset of the char* in offload_annotations, or -1 */
    annotation_check check;
} rules[] = {
    /* Read by offload_annotations_requested(); here a typo ("TRUE", "yes") is
     * refused like any other bad value, rather than silently not offloaded. */
    {ANNOTATION_ENABLED, -1, check_boolean},
    {ANNOTATION_PREFIX "aggregator-image", offsetof(offload_annotations, aggregator_image),
     check_image},
    {ANNOTATION_PREFIX "aggregator-args", offsetof(offload_annotations, aggregator_args),
     check_string_array},
    {ANNOTATION_PREFIX "pool", offsetof(offload_annotations, pool), check_pool},
    {ANNOTATION_PREFIX "priority", offsetof(offload_annotations, priority), check_priority},
    {ANNOTATION_PREFIX "vm-size", offsetof(offload_annotations, vm_size), check_vm_size},
    {ANNOTATION_PREFIX "storage-container", offsetof(offload_annotations, storage_container),
     check_container},
    {ANNOTATION_PREFIX "blob-prefix", offsetof(offload_annotations, blob_prefix),
     check_blob_prefix},
    {ANNOTATION_PREFIX "input-prefix", offsetof(offload_annotations, input_prefix),
     check_blob_prefix},
    {ANNOTATION_PREFIX "inputs", offsetof(offload_annotations, inputs), check_inputs},
    {ANNOTATION_PREFIX "keep-batch-job", offsetof(offload_annotations, keep_batch_job),
     check_boolean},
};
#define RULE_COUNT (sizeof(rules) / sizeof(rules[0]))

bool offload_annotations_requested(const json_document *doc, int annotations)
{
    int enabled = json_object_get(doc, annotations, ANNOTATION_ENABLED);
    return enabled >= 0 && !json_string_equals(doc, enabled, "false");
}

void append_quoted_value(buffer *out, const char *value)
{
    size_t n = strlen(value);
    buffer_append_char(out, '"');
    json_escape_into(out, value, n > QUOTED_VALUE_MAX ? QUOTED_VALUE_MAX : n);
    buffer_append_str(out, n > QUOTED_VALUE_MAX ? "...\"" : "\"");
}

static const struct annotation_rule *rule_for(const json_document *doc, int key)
{
    for (size_t i = 0; i < RULE_COUNT; i++)
        if (json_string_equals(doc, key, rules[i].name))
            return &rules[i];
    return NULL;
}

static void list_known_names(buffer *out)
{
    for (size_t i = 0; i < RULE_COUNT; i++)
        buffer_appendf(out, "%s%s", i ? ", " : "", rules[i].name);
}

bool offload_annotations_read(offload_annotations *a, const json_document *doc, int annotations,
                              const platform_settings *platform, buffer *message)
{
    memset(a, 0, sizeof(*a));
    json_iterator it = json_iterate(doc, annotations);
    int key;
    while (json_iterator_next(&it, &key)) {
        if (!json_string_has_prefix(doc, key, ANNOTATION_PREFIX))
            continue;
        char *name = json_string_dup(doc, key);
        char *value = json_string_dup(doc, key + 1);
        const struct annotation_rule *rule = rule_for(doc, key);
        bool ok = true;
        if (!name || !value) {
            buffer_append_str(message, "a batch-offload.io/ annotation has a value that is not "
                                       "a string or contains a NUL character");
            ok = false;
        } else if (!rule) {
            buffer_append_str(message, "unknown annotation ");
            append_quoted_value(message, name);
            buffer_append_str(message, ": the batch-offload.io/ annotations are ");
            list_known_names(message);
            ok = false;
        } else {
            buffer allowed;
            buffer_init(&allowed, 1024);
            if (!rule->check(value, platform, &allowed)) {
                buffer_appendf(message, "annotation %s has value ", name);
                append_quoted_value(message, value);
                buffer_appendf(message, ": allowed is %s", buffer_cstr(&allowed));
                ok = false;
            } else if (rule->field >= 0) {
                char **field = (char **)((char *)a + rule->field);
                free(*field);
                *field = value;
                value = NULL;
            }
            buffer_free(&allowed);
        }
        free(name);
        free(value);
        if (!ok) {
            offload_annotations_free(a);
            return false;
        }
    }
    if (a->aggregator_args && !a->aggregator_image) {
        buffer_append_str(message, "annotation " ANNOTATION_PREFIX "aggregator-args is set but "
                                   ANNOTATION_PREFIX "aggregator-image is not: an aggregator "
                                   "needs an image");
        offload_annotations_free(a);
        return false;
    }
    return true;
}

void offload_annotations_free(offload_annotations *a)
{
    for (size_t i = 0; i < RULE_COUNT; i++) {
        if (rules[i].field < 0)
            continue;
        char **field = (char **)((char *)a + rules[i].field);
        free(*field);
        *field = NULL;
    }
}
