/* Reading WORKERSPEC; see worker_spec.h.
 *
 * The environment is built in the kubelet's order: envFrom sources first
 * (later sources win), then env entries in order, each "value" expanded with
 * $(VAR) against what is defined so far. A valueFrom entry was resolved by
 * the kubelet in the offloader pod under BATCH_OFFLOAD_WORKER_ENV_<index>;
 * envFrom source j arrived behind the prefix BATCH_OFFLOAD_WORKER_ENVFROM_<j>_. */
#include "worker_spec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command_line.h"
#include "json_shape.h"
#include "offload_contract.h"
#include "quantity.h"
#include "redact.h"

#define ENV_PREFIX OFFLOAD_ENV_WORKER_ENV_PREFIX
#define ENV_FROM_PREFIX OFFLOAD_ENV_WORKER_ENV_FROM_PREFIX

/* What this file reads of WORKERSPEC, and the shape it must have; a field of
 * another type is refused, naming it, rather than read as absent. The Job
 * fields (parallelism, ...) are checked with their ranges in job_plan.c. */
static const json_shape resource_field_ref[] = {
    {.name = "resource", .type = JSON_STRING, .required = true},
    {.name = "divisor", .type = JSON_STRING},
    {0},
};
static const json_shape value_source[] = {
    {.name = "secretKeyRef", .type = JSON_OBJECT},
    {.name = "configMapKeyRef", .type = JSON_OBJECT},
    {.name = "fieldRef", .type = JSON_OBJECT},
    {.name = "resourceFieldRef", .type = JSON_OBJECT, .members = resource_field_ref},
    {0},
};
static const json_shape env_entry[] = {
    {.name = "name", .type = JSON_STRING, .required = true},
    {.name = "value", .type = JSON_STRING},
    {.name = "valueFrom", .type = JSON_OBJECT, .members = value_source},
    {0},
};
static const json_shape env_source[] = {
    {.name = "prefix", .type = JSON_STRING},
    {.name = "secretRef", .type = JSON_OBJECT},
    {.name = "configMapRef", .type = JSON_OBJECT},
    {0},
};
static const json_shape resource_lists[] = {
    {.name = "limits", .type = JSON_OBJECT, .elements = JSON_STRING},   /* quantities */
    {.name = "requests", .type = JSON_OBJECT, .elements = JSON_STRING},
    {0},
};
static const json_shape container_fields[] = {
    {.name = "name", .type = JSON_STRING},
    {.name = "image", .type = JSON_STRING},
    {.name = "command", .type = JSON_ARRAY, .elements = JSON_STRING},
    {.name = "args", .type = JSON_ARRAY, .elements = JSON_STRING},
    {.name = "workingDir", .type = JSON_STRING},
    {.name = "env", .type = JSON_ARRAY, .elements = JSON_OBJECT, .members = env_entry},
    {.name = "envFrom", .type = JSON_ARRAY, .elements = JSON_OBJECT, .members = env_source},
    {.name = "resources", .type = JSON_OBJECT, .members = resource_lists},
    {0},
};
static const json_shape pull_secret[] = {
    {.name = "name", .type = JSON_STRING},
    {0},
};
static const json_shape worker_spec_fields[] = {
    {.name = "container", .type = JSON_OBJECT, .required = true, .members = container_fields},
    {.name = "imagePullSecrets", .type = JSON_ARRAY, .elements = JSON_OBJECT, .members = pull_secret},
    {0},
};

bool string_list_push(string_list *list, const char *s)
{
    char **grown = realloc(list->items, (list->count + 1) * sizeof(char *));
    if (!grown)
        return false;
    list->items = grown;
    list->items[list->count] = strdup(s);
    return list->items[list->count++] != NULL;
}

void string_list_free(string_list *list)
{
    for (size_t i = 0; i < list->count; i++)
        free(list->items[i]);
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

bool string_list_from_json(string_list *list, const json_document *doc, int array)
{
    if (json_type_of(doc, array) != JSON_ARRAY)
        return false;
    json_iterator it = json_iterate(doc, array);
    int t;
    while (json_iterator_next(&it, &t)) {
        char *s = json_string_dup(doc, t);
        bool ok = s && string_list_push(list, s);
        free(s);
        if (!ok)
            return false;
    }
    return true;
}

/* Variables of envFrom source `index`, prefix removed. */
static bool add_env_from(worker_spec *spec, int index, bool secret, char **environ_list)
{
    char prefix[64];
    snprintf(prefix, sizeof(prefix), ENV_FROM_PREFIX "%d_", index);
    size_t prefix_len = strlen(prefix);
    for (char **e = environ_list; e && *e; e++) {
        if (strncmp(*e, prefix, prefix_len) != 0)
            continue;
        const char *eq = strchr(*e, '=');
        if (!eq || eq - *e <= (long)prefix_len)
            continue;
        char name[512];
        size_t name_len = (size_t)(eq - *e) - prefix_len;
        if (name_len >= sizeof(name))
            continue;
        memcpy(name, *e + prefix_len, name_len);
        name[name_len] = '\0';
        if (secret)
            redact_register_secret(eq + 1);
        if (!env_list_set(&spec->env, name, eq + 1))
            return false;
    }
    return true;
}

static const char *lookup(char **environ_list, const char *name)
{
    size_t n = strlen(name);
    for (char **e = environ_list; e && *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

/* A resourceFieldRef, computed from the worker's own resources as the
 * kubelet would: the value divided by the divisor, rounded up. */
static bool resource_field_value(const worker_spec *spec, int ref, char *out, size_t size)
{
    const json_document *doc = &spec->doc;
    char *resource = json_string_dup(doc, json_object_get(doc, ref, "resource"));
    char *divisor_text = json_string_dup(doc, json_object_get(doc, ref, "divisor"));
    bool ok = false;
    const char *dot = resource ? strchr(resource, '.') : NULL;
    if (dot) {
        char section[16];
        size_t section_len = (size_t)(dot - resource);
        if (section_len < sizeof(section)) {
            memcpy(section, resource, section_len);
            section[section_len] = '\0';
            int t = json_lookup(doc, spec->container, "resources", section, dot + 1, NULL);
            char *quantity_text = json_string_dup(doc, t);
            double value, divisor = 1;
            if (quantity_text && quantity_parse(quantity_text, &value) &&
                (!divisor_text || (quantity_parse(divisor_text, &divisor) && divisor > 0))) {
                snprintf(out, size, "%.0f", ceil(value / divisor));
                ok = true;
            }
            free(quantity_text);
        }
    }
    free(resource);
    free(divisor_text);
    return ok;
}

static bool read_env(worker_spec *spec, char **environ_list, buffer *errors)
{
    const json_document *doc = &spec->doc;
    int env_from = json_object_get(doc, spec->container, "envFrom");
    json_iterator sources = json_iterate(doc, env_from);
    int source;
    for (int index = 0; json_iterator_next(&sources, &source); index++)
        if (!add_env_from(spec, index,
                          json_type_of(doc, json_object_get(doc, source, "secretRef")) == JSON_OBJECT,
                          environ_list))
            return false;

    int env = json_object_get(doc, spec->container, "env");
    json_iterator entries = json_iterate(doc, env);
    int entry;
    for (int index = 0; json_iterator_next(&entries, &entry); index++) {
        char *name = json_string_dup(doc, json_object_get(doc, entry, "name"));
        if (!name) { /* the shape says it is a string: this one holds "\u0000" */
            buffer_appendf(errors, "WORKERSPEC: container.env[%d].name is not a usable name\n",
                           index);
            return false;
        }
        int value_from = json_object_get(doc, entry, "valueFrom");
        bool ok = true;
        if (json_type_of(doc, value_from) == JSON_OBJECT) {
            int resource_ref = json_object_get(doc, value_from, "resourceFieldRef");
            char resolved[64];
            char forwarded[64];
            snprintf(forwarded, sizeof(forwarded), ENV_PREFIX "%d", index);
            const char *value = lookup(environ_list, forwarded);
            if (json_type_of(doc, resource_ref) == JSON_OBJECT) {
                if (resource_field_value(spec, resource_ref, resolved, sizeof(resolved)))
                    ok = env_list_set(&spec->env, name, resolved);
                /* else: the limit is unset (the node's capacity on Kubernetes): left out */
            } else if (value) {
                if (json_type_of(doc, json_object_get(doc, value_from, "secretKeyRef")) == JSON_OBJECT)
                    redact_register_secret(value);
                ok = env_list_set(&spec->env, name, value);
            } /* else: an optional reference that resolved to nothing */
        } else {
            char *raw = json_string_dup(doc, json_object_get(doc, entry, "value"));
            buffer expanded;
            buffer_init(&expanded, 0);
            kubelet_expand(raw ? raw : "", &spec->env, &expanded);
            ok = buffer_ok(&expanded) && env_list_set(&spec->env, name, buffer_cstr(&expanded));
            buffer_free(&expanded);
            free(raw);
        }
        free(name);
        if (!ok)
            return false;
    }
    return true;
}

static bool read_limits(worker_spec *spec, buffer *errors)
{
    const json_document *doc = &spec->doc;
    int limits = json_lookup(doc, spec->container, "resources", "limits", NULL);
    static const char *const names[] = {"cpu", "memory"};
    double *targets[] = {&spec->cpu_limit, &spec->memory_limit};
    for (size_t i = 0; i < 2; i++) {
        int t = json_object_get(doc, limits, names[i]);
        if (t < 0)
            continue;
        char *text = json_string_dup(doc, t);
        bool ok = text && quantity_parse(text, targets[i]);
        if (!ok)
            buffer_appendf(errors, "WORKERSPEC: container.resources.limits.%s is not a quantity\n",
                           names[i]);
        free(text);
        if (!ok)
            return false;
    }
    return true;
}

/* The GPU count as the webhook checked it: the limit, else a request (equal
 * to it wherever both are). */
static bool read_gpus(worker_spec *spec, buffer *errors)
{
    const json_document *doc = &spec->doc;
    int resources = json_object_get(doc, spec->container, "resources");
    int t = json_lookup(doc, resources, "limits", OFFLOAD_GPU_RESOURCE, NULL);
    const char *section = "limits";
    if (t < 0) {
        t = json_lookup(doc, resources, "requests", OFFLOAD_GPU_RESOURCE, NULL);
        section = "requests";
    }
    if (t < 0)
        return true;
    char *text = json_string_dup(doc, t);
    bool ok = text && text[0] && strlen(text) <= 3 && strspn(text, "0123456789") == strlen(text);
    if (ok)
        spec->gpus = strtol(text, NULL, 10);
    free(text);
    if (ok && spec->gpus <= OFFLOAD_MAX_GPUS)
        return true;
    buffer_appendf(errors, "WORKERSPEC: container.resources.%s." OFFLOAD_GPU_RESOURCE " must be a "
                           "whole number from 0 to " OFFLOAD_STRINGIFY(OFFLOAD_MAX_GPUS) "\n",
                   section);
    return false;
}

static bool has_worker_spec_shape(const json_document *doc, buffer *errors)
{
    buffer problem;
    buffer_init(&problem, 0);
    bool ok = json_shape_check(doc, 0, worker_spec_fields, &problem);
    if (!ok)
        buffer_appendf(errors, "WORKERSPEC: %s\n", buffer_cstr(&problem));
    buffer_free(&problem);
    return ok;
}

static bool read_spec(worker_spec *spec, const char *json_text, char **environ_list,
                      buffer *errors)
{
    spec->text = strdup(json_text);
    char error[160] = "out of memory";
    if (!spec->text ||
        !json_document_parse(&spec->doc, spec->text, strlen(spec->text), WORKER_SPEC_TOKENS, error,
                             sizeof(error))) {
        buffer_appendf(errors, "WORKERSPEC is not valid JSON: %s\n", error);
        return false;
    }
    if (!has_worker_spec_shape(&spec->doc, errors))
        return false;
    spec->container = json_object_get(&spec->doc, 0, "container");
    const json_document *doc = &spec->doc;
    int command = json_object_get(doc, spec->container, "command");
    int args = json_object_get(doc, spec->container, "args");
    if ((json_type_of(doc, command) == JSON_ARRAY &&
         !string_list_from_json(&spec->command, doc, command)) ||
        (json_type_of(doc, args) == JSON_ARRAY && !string_list_from_json(&spec->args, doc, args))) {
        buffer_append_str(errors, "WORKERSPEC: container.command and container.args cannot "
                                  "hold \"\\u0000\"\n"); /* the shape said: strings */
        return false;
    }
    int working_dir = json_object_get(doc, spec->container, "workingDir");
    if (working_dir >= 0)
        spec->working_dir = json_string_dup(doc, working_dir);
    int pull = json_object_get(doc, 0, "imagePullSecrets");
    json_iterator it = json_iterate(doc, pull);
    int ref;
    while (json_iterator_next(&it, &ref)) {
        char *name = json_string_dup(doc, json_object_get(doc, ref, "name"));
        if (name)
            string_list_push(&spec->pull_secrets, name);
        free(name);
    }
    return read_limits(spec, errors) && read_gpus(spec, errors) &&
           read_env(spec, environ_list, errors);
}

bool worker_spec_read(worker_spec *spec, const char *json_text, char **environ_list,
                      buffer *errors)
{
    memset(spec, 0, sizeof(*spec));
    spec->container = -1;
    if (!json_text)
        return true;
    if (read_spec(spec, json_text, environ_list, errors))
        return true;
    worker_spec_free(spec); /* the caller frees only a spec that was read */
    spec->container = -1;
    return false;
}

void worker_spec_free(worker_spec *spec)
{
    string_list_free(&spec->command);
    string_list_free(&spec->args);
    string_list_free(&spec->pull_secrets);
    env_list_free(&spec->env);
    free(spec->working_dir);
    json_document_free(&spec->doc);
    free(spec->text);
    memset(spec, 0, sizeof(*spec));
}
