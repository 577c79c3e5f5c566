/* Where a Job's Secrets end up on Azure Batch; see secret_exposure.h. The
 * offloader resolves the worker's env in its own pod and hands it to Batch as
 * plain environment settings (Batch has no secret ones), and registry
 * credentials as every task's containerSettings.registry. */
#include "secret_exposure.h"

#include <stdio.h>
#include <stdlib.h>

#define WORKER "spec.template.spec.containers[0]"
#define EXPOSURE                                                                                   \
    "the Batch job's commonEnvironmentSettings, readable by anyone with read access to the "       \
    "Batch account"

/* The worker's env references to Secrets: how many, and the first one. */
typedef struct secret_refs {
    int count;
    char first[128];     /* "env[1] (API_TOKEN) takes its value", "envFrom[0] takes its variables" */
    char *first_secret;  /* its Secret's name; NULL when it has none */
} secret_refs;

static void note(secret_refs *refs, const json_document *doc, int ref)
{
    if (refs->count++ == 0)
        refs->first_secret = json_string_dup(doc, json_object_get(doc, ref, "name"));
}

static void find_secret_refs(const json_document *doc, int env, int env_from, secret_refs *refs)
{
    json_iterator entries = json_iterate(doc, env);
    int entry;
    for (int i = 0; json_iterator_next(&entries, &entry); i++) {
        int ref = json_lookup(doc, entry, "valueFrom", "secretKeyRef", NULL);
        if (json_type_of(doc, ref) != JSON_OBJECT)
            continue;
        if (refs->count == 0) {
            char *name = json_string_dup(doc, json_object_get(doc, entry, "name"));
            snprintf(refs->first, sizeof(refs->first), "env[%d] (%.63s) takes its value", i,
                     name ? name : "");
            free(name);
        }
        note(refs, doc, ref);
    }
    json_iterator sources = json_iterate(doc, env_from);
    int source;
    for (int i = 0; json_iterator_next(&sources, &source); i++) {
        int ref = json_object_get(doc, source, "secretRef");
        if (json_type_of(doc, ref) != JSON_OBJECT)
            continue;
        if (refs->count == 0)
            snprintf(refs->first, sizeof(refs->first), "envFrom[%d] takes its variables", i);
        note(refs, doc, ref);
    }
}

static void warn_pull_secrets(const json_document *doc, int pull_secrets,
                              admission_warnings *warnings)
{
    int count = json_length(doc, pull_secrets);
    if (json_type_of(doc, pull_secrets) != JSON_ARRAY || count == 0)
        return;
    char *first = json_string_dup(doc, json_object_get(doc, pull_secrets + 1, "name"));
    char more[32] = "";
    if (count > 1)
        snprintf(more, sizeof(more), " and %d more", count - 1);
    admission_warnings_add(warnings,
                           "spec.template.spec.imagePullSecrets (\"%.40s\"%s): the registry password "
                           "for the Job's images goes to Azure Batch with every task "
                           "(containerSettings.registry), and every node of the pool logs in "
                           "with it",
                           first ? first : "", more);
    free(first);
}

bool secret_exposure_check(const json_document *doc, int env, int env_from, int pull_secrets,
                           bool deny, buffer *message, admission_warnings *warnings)
{
    secret_refs refs = {0};
    find_secret_refs(doc, env, env_from, &refs);
    const char *secret = refs.first_secret ? refs.first_secret : "";
    bool allowed = true;
    if (refs.count > 0 && deny) {
        buffer_appendf(message,
                       WORKER ".%s from Secret \"%.253s\": this cluster does not offload Jobs "
                       "whose worker takes env values from Secrets (the platform's "
                       "--secret-env=deny): on Azure Batch they would be in " EXPOSURE ". Let "
                       "the worker read its secrets itself, with an identity (README: Secrets)",
                       refs.first, secret);
        allowed = false;
    } else if (refs.count > 0) {
        /* The name is cut short so that the warning keeps its end within 256 bytes. */
        admission_warnings_add(warnings,
                               WORKER " takes env values from Secrets (%d reference%s, the first "
                               "to \"%.32s\"): on Azure Batch they are " EXPOSURE,
                               refs.count, refs.count == 1 ? "" : "s", secret);
    }
    free(refs.first_secret);
    if (allowed)
        warn_pull_secrets(doc, pull_secrets, warnings);
    return allowed;
}
