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
    const char *why; /* what the user should know, after "is not carried to Azure Batch" */
} dropped_field;

static const dropped_field job_fields[] = {
    {"podFailurePolicy", ": the offloader's own policy replaces it; retries follow backoffLimit"},
    {"successPolicy", ": every worker task must succeed"},
    {"maxFailedIndexes", ": the first failed worker task ends the Batch job"},
};

static const dropped_field pod_fields[] = {
    {"volumes", ": Batch tasks get files from Blob storage instead"},
    {"initContainers", ""},
    {"ephemeralContainers", ""},
    {"nodeSelector", ": use batch-offload.io/pool or batch-offload.io/vm-size"},
    {"nodeName", ""},
    {"affinity", ""},
    {"tolerations", ""},
    {"topologySpreadConstraints", ""},
    {"schedulingGates", ""},
    {"resourceClaims", ""},
    {"runtimeClassName", ""},
    {"priorityClassName", ""},
    {"preemptionPolicy", ""},
    {"overhead", ""},
    {"hostNetwork", ""},
    {"hostPID", ""},
    {"hostIPC", ""},
    {"hostUsers", ""},
    {"shareProcessNamespace", ""},
    {"hostAliases", ""},
    {"hostname", ""},
    {"subdomain", ""},
    {"dnsConfig", ""},
    {"readinessGates", ""},
    {"os", ""},
    {"securityContext", ""},
    {"activeDeadlineSeconds", ": use the Job's spec.activeDeadlineSeconds"},
    {"serviceAccountName", ""},
};

static const dropped_field container_fields[] = {
    {"ports", ""},
    {"volumeMounts", ""},
    {"volumeDevices", ""},
    {"livenessProbe", ""},
    {"readinessProbe", ""},
    {"startupProbe", ""},
    {"lifecycle", ""},
    {"securityContext", ""},
    {"stdin", ""},
    {"stdinOnce", ""},
    {"tty", ""},
    {"resizePolicy", ""},
    {"restartPolicy", ""},
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

static void warn_table(const json_document *doc, int object, const char *path,
                       const dropped_field *table, size_t count, admission_warnings *warnings)
{
    for (size_t i = 0; i < count; i++) {
        int value = json_object_get(doc, object, table[i].name);
        if (is_meaningful(doc, value, table[i].name))
            admission_warnings_add(warnings, "%s.%s is not carried to Azure Batch%s", path,
                                   table[i].name, table[i].why);
    }
}

#define TABLE(t) t, sizeof(t) / sizeof(t[0])

void dropped_fields_warn(const json_document *doc, int job_spec, int pod_spec,
                         admission_warnings *warnings)
{
    warn_table(doc, job_spec, "spec", TABLE(job_fields), warnings);
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
