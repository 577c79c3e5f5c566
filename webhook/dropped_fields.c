/* Which Job, pod and container fields are not carried to Azure Batch.
 *
 * One table per level. A field is reported only when it says something:
 * defaults the API server fills in (securityContext: {}, dnsPolicy,
 * schedulerName, terminationGracePeriodSeconds...) are not in the tables or
 * are empty, so an ordinary Job gets no noise. */
#include "dropped_fields.h"

#include <stdlib.h>
#include <string.h>

typedef struct dropped_field {
    const char *name;
    size_t name_len;
    const char *why; /* what the user should know, after "is not carried to Azure Batch" */
} dropped_field;

#define FIELD(name, why) {name, sizeof(name) - 1, why}

static const dropped_field pod_fields[] = {
    FIELD("volumes", ": Batch tasks get files from Blob storage instead"),
    FIELD("initContainers", ""),
    FIELD("ephemeralContainers", ""),
    FIELD("nodeSelector", ": use batch-offload.io/pool or batch-offload.io/vm-size"),
    FIELD("nodeName", ""),
    FIELD("affinity", ""),
    FIELD("tolerations", ""),
    FIELD("topologySpreadConstraints", ""),
    FIELD("schedulingGates", ""),
    FIELD("resourceClaims", ""),
    FIELD("runtimeClassName", ""),
    FIELD("priorityClassName", ""),
    FIELD("preemptionPolicy", ""),
    FIELD("overhead", ""),
    FIELD("hostNetwork", ""),
    FIELD("hostPID", ""),
    FIELD("hostIPC", ""),
    FIELD("hostUsers", ""),
    FIELD("shareProcessNamespace", ""),
    FIELD("hostAliases", ""),
    FIELD("hostname", ""),
    FIELD("subdomain", ""),
    FIELD("dnsConfig", ""),
    FIELD("readinessGates", ""),
    FIELD("os", ""),
    FIELD("securityContext", ""),
    FIELD("activeDeadlineSeconds", ": use the Job's spec.activeDeadlineSeconds"),
    FIELD("serviceAccountName", ""),
};

static const dropped_field container_fields[] = {
    FIELD("ports", ""),
    FIELD("volumeMounts", ""),
    FIELD("volumeDevices", ""),
    FIELD("livenessProbe", ""),
    FIELD("readinessProbe", ""),
    FIELD("startupProbe", ""),
    FIELD("lifecycle", ""),
    FIELD("securityContext", ""),
    FIELD("stdin", ""),
    FIELD("stdinOnce", ""),
    FIELD("tty", ""),
    FIELD("resizePolicy", ""),
    FIELD("restartPolicy", ""),
};

/* Whether a value says anything beyond the defaults: not null, false, "",
 * {} or []; a service account other than "default". */
static bool is_meaningful(const json_document *doc, int value, const char *name)
{
    switch (json_type_of(doc, value)) {
    case JSON_NONE:
    case JSON_NULL:
    case JSON_FALSE:
        return false;
    case JSON_OBJECT:
    case JSON_ARRAY:
        return json_length(doc, value) > 0;
    case JSON_STRING:
        if (strcmp(name, "serviceAccountName") == 0 && json_string_equals(doc, value, "default"))
            return false;
        return json_string_length(doc, value) > 0;
    default:
        return true;
    }
}

/* The table row a member name is, or NULL. Names are compared as written
 * (lengths first); a name with escapes in it is decoded to compare. */
static const dropped_field *row_for(const json_document *doc, int key, const dropped_field *table,
                                    size_t count)
{
    const char *text;
    size_t len;
    json_raw(doc, key, &text, &len);
    text++; /* inside the quotes */
    len -= 2;
    bool escaped = memchr(text, '\\', len) != NULL;
    for (size_t i = 0; i < count; i++) {
        if (escaped ? json_string_equals(doc, key, table[i].name)
                    : table[i].name_len == len && memcmp(text, table[i].name, len) == 0)
            return &table[i];
    }
    return NULL;
}

/* One pass over the object's members (not one lookup per row). */
static void warn_table(const json_document *doc, int object, const char *path,
                       const dropped_field *table, size_t count, admission_warnings *warnings)
{
    json_iterator it = json_iterate(doc, object);
    int key;
    while (json_iterator_next(&it, &key)) {
        const dropped_field *row = row_for(doc, key, table, count);
        if (row && is_meaningful(doc, key + 1, row->name))
            admission_warnings_add(warnings, "%s.%s is not carried to Azure Batch%s", path,
                                   row->name, row->why);
    }
}

#define TABLE(t) t, sizeof(t) / sizeof(t[0])

void dropped_fields_warn(const json_document *doc, int pod_spec,
                         admission_warnings *warnings)
{
    warn_table(doc, pod_spec, "spec.template.spec", TABLE(pod_fields), warnings);
    int containers = json_object_get(doc, pod_spec, "containers");
    json_iterator it = json_iterate(doc, containers);
    int container;
    for (int index = 0; json_iterator_next(&it, &container); index++) {
        if (index == 0) {
            warn_table(doc, container, "spec.template.spec.containers[0]",
                       TABLE(container_fields), warnings);
            continue;
        }
        char *name = json_string_dup(doc, json_object_get(doc, container, "name"));
        admission_warnings_add(warnings,
                               "spec.template.spec.containers[%d] (\"%.63s\") is not carried to "
                               "Azure Batch: only the first container runs there",
                               index, name ? name : "");
        free(name);
    }
}
