/* The dry run; see dry_run.h. The bodies are the real builders' output. */
#include "dry_run.h"

#include <string.h>

#include "batch_requests.h"
#include "json_writer.h"
#include "redact.h"
#include "task_submission.h"

static void print_request(FILE *out, const job_plan *plan, const char *method, const char *path,
                          const buffer *body, const char *note)
{
    buffer text;
    buffer_init(&text, 0);
    buffer_appendf(&text, "%s %s%s?api-version=%s%s%s\n", method, plan->config->primary.batch_url,
                   path,
                   plan->config->api_version, note ? "  # " : "", note ? note : "");
    if (body)
        buffer_appendf(&text, "%s\n", buffer_cstr(body));
    buffer_append_char(&text, '\n');
    redact_print(out, buffer_cstr(&text));
    buffer_free(&text);
}

void dry_run_print(job_plan *plan, FILE *out)
{
    const offloader_config *c = plan->config;
    buffer errors;
    buffer_init(&errors, 0);
    storage_plan_layout(&plan->storage, c, &c->primary);
    if (offloader_config_uses_entra(c))
        storage_plan_sign_placeholder(&plan->storage);
    else
        storage_plan_sign_with_key(&plan->storage, c, &c->primary, plan->max_wall_clock_seconds,
                                   &errors);
    buffer_free(&errors);
    long total = plan->completions + (plan->has_aggregator ? 1 : 0);
    long chunks = (total + TASKS_PER_COLLECTION - 1) / TASKS_PER_COLLECTION;
    fprintf(out, "# batch-offloader --dry-run: the requests it would send (secrets redacted)\n\n");
    buffer body, path;
    buffer_init(&body, 0);
    buffer_init(&path, 0);
    batch_job_create_body(plan, &body);
    print_request(out, plan, "POST", "/jobs", &body, NULL);

    buffer_reset(&body);
    buffer_append_str(&body, "{\"value\":[");
    long first_chunk = plan->completions < TASKS_PER_COLLECTION ? plan->completions
                                                                : TASKS_PER_COLLECTION;
    for (long i = 0; i < first_chunk; i++) {
        json_writer w;
        if (i > 0)
            buffer_append_char(&body, ',');
        json_writer_init(&w, &body);
        batch_worker_task_write(plan, i, &w);
    }
    if (plan->has_aggregator && chunks == 1) {
        json_writer w;
        buffer_append_char(&body, ',');
        json_writer_init(&w, &body);
        batch_aggregator_task_write(plan, &w);
    }
    buffer_append_str(&body, "]}");
    char note[160];
    snprintf(note, sizeof(note), "1 of %ld task collections (%ld tasks in all%s)", chunks, total,
             plan->has_aggregator ? ", the aggregator last" : "");
    buffer_appendf(&path, "/jobs/%s/addtaskcollection", c->job_id);
    print_request(out, plan, "POST", buffer_cstr(&path), &body, note);

    buffer_reset(&path);
    buffer_appendf(&path, "/jobs/%s", c->job_id);
    buffer_reset(&body);
    batch_job_finish_when_done_body(&body);
    print_request(out, plan, "PATCH", buffer_cstr(&path), &body, NULL);
    buffer_reset(&path);
    buffer_appendf(&path, "/jobs/%s/taskcounts", c->job_id);
    print_request(out, plan, "GET", buffer_cstr(&path), NULL, "repeated until the tasks end");
    if (!c->keep_batch_job) {
        buffer_reset(&path);
        buffer_appendf(&path, "/jobs/%s", c->job_id);
        print_request(out, plan, "DELETE", buffer_cstr(&path), NULL, "once the work ended");
    }
    buffer_free(&body);
    buffer_free(&path);
}
