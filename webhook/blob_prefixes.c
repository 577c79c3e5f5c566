/* The Job's blob prefixes; see blob_prefixes.h. */
#include "blob_prefixes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "azure_names.h"
#include "job_view.h"
#include "offload_contract.h"

#define OBJECT_NAME_MAX 253 /* a DNS subdomain, as Kubernetes names objects */

void blob_prefixes_init(blob_prefixes *p)
{
    memset(p, 0, sizeof(*p));
    buffer_init(&p->outputs, 0);
    buffer_init(&p->inputs, 0);
}

void blob_prefixes_free(blob_prefixes *p)
{
    buffer_free(&p->outputs);
    buffer_free(&p->inputs);
}

/* The name of the CronJob that made the Job, NULL when none did: the
 * ownerReference the CronJob controller sets (kind CronJob in batch/,
 * controller: true). Another owner (an operator's own kind) is not a CronJob. */
static char *cronjob_owner(const json_document *doc, int metadata)
{
    json_iterator it = json_iterate(doc, json_object_get(doc, metadata, "ownerReferences"));
    int owner;
    while (json_iterator_next(&it, &owner)) {
        if (json_string_equals(doc, json_object_get(doc, owner, "kind"), "CronJob") &&
            json_string_has_prefix(doc, json_object_get(doc, owner, "apiVersion"), "batch/") &&
            json_is_true(doc, json_object_get(doc, owner, "controller")))
            return json_string_dup(doc, json_object_get(doc, owner, "name"));
    }
    return NULL;
}

/* A name the API server could have given an object: it goes into blob paths
 * as one segment, so no '/' and nothing a path would read otherwise. */
static bool is_object_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > OBJECT_NAME_MAX || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return false;
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' || *c == '.'))
            return false;
    return true;
}

/* "<namespace>/<middle><job name>": the name, or with generateName the one the
 * Job gets when stored, read by the kubelet from the pod's label. */
static void append_job_path(blob_prefixes *p, const job_view *v, const char *middle)
{
    buffer_appendf(&p->outputs, "%s/%s", v->namespace_name, middle);
    if (v->job_name) {
        buffer_append_str(&p->outputs, v->job_name);
    } else { /* namespaces and CronJob names are DNS names: no '$' to escape */
        buffer_append_str(&p->outputs, "$(" OFFLOAD_ENV_JOB_NAME ")");
        p->outputs_expanded = true;
    }
}

bool blob_prefixes_make(blob_prefixes *p, const job_view *v, int metadata,
                        admission_warnings *warnings, buffer *message)
{
    const offload_annotations *a = &v->annotations;
    char *cronjob = cronjob_owner(v->doc, metadata);
    bool ok = true;
    if (cronjob && !is_object_name(cronjob)) {
        buffer_append_str(message, "metadata.ownerReferences names CronJob ");
        append_quoted_value(message, cronjob);
        buffer_append_str(message, " as the Job's controller: allowed is a Kubernetes object "
                                   "name (lowercase letters, digits, '-' and '.'), which goes "
                                   "into the Job's blob prefixes");
        ok = false;
    } else if (a->blob_prefix) {
        buffer_append_str(&p->outputs, a->blob_prefix);
        if (cronjob)
            admission_warnings_add(warnings,
                                   ANNOTATION_PREFIX "blob-prefix is the same for every run of "
                                   "CronJob %s: each run overwrites the last one's outputs and "
                                   "logs; without it each run gets %s/%s/runs/<job name>",
                                   cronjob, v->namespace_name, cronjob);
    } else if (cronjob) {
        char middle[OBJECT_NAME_MAX + 8];
        snprintf(middle, sizeof(middle), "%s/runs/", cronjob);
        append_job_path(p, v, middle);
    } else {
        append_job_path(p, v, "");
    }
    if (ok && a->input_prefix)
        buffer_append_str(&p->inputs, a->input_prefix);
    else if (ok && cronjob && !a->blob_prefix) /* shared by every run: staged once */
        buffer_appendf(&p->inputs, "%s/%s", v->namespace_name, cronjob);
    free(cronjob);
    return ok;
}
