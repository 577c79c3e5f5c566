/* Telling the user why the work failed: the first tasks that failed on their
 * own (not those Batch ended when the job was terminated), each with its exit
 * code, failure and the end of its stderr.txt, a log line per line of it. */
#include "failure_report.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

/* The last 2 KiB of each stderr.txt, for at most 5 tasks out of the first 100 listed. */
#define STDERR_TAIL_BYTES 2048
#define FAILED_TASKS_SHOWN 5
#define FAILED_TASKS_LISTED 100

/* Tasks Batch ended because the job was terminated are not what failed. */
static bool ended_by_termination(const failed_task *t)
{
    return strcmp(t->failure_code, "TaskEnded") == 0;
}

/* The end of a task's stderr.txt, a log line per line of it (so each
 * carries the prefix kubectl logs readers grep for); a tail cut from a longer
 * file starts at its first whole line. */
static void print_tail(const char *task_id, const char *text, bool cut)
{
    if (cut && strchr(text, '\n'))
        text = strchr(text, '\n') + 1;
    char heading[160];
    snprintf(heading, sizeof(heading), "end of stderr.txt of task %.64s%s:", task_id,
             cut ? " (earlier lines left out)" : "");
    log_error(heading);
    size_t len = strlen(text);
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        len--;
    for (size_t at = 0; at < len;) {
        size_t line = strcspn(text + at, "\n");
        if (line > len - at)
            line = len - at;
        size_t shown = line > 0 && text[at + line - 1] == '\r' ? line - 1 : line;
        char quoted[STDERR_TAIL_BYTES + 8];
        snprintf(quoted, sizeof(quoted), "| %.*s", (int)shown, text + at);
        log_error(quoted);
        at += line + 1;
    }
}

static void report_failed_task(batch_client *b, const failed_task *t)
{
    char exit_code[32] = "none";
    if (t->has_exit_code)
        snprintf(exit_code, sizeof(exit_code), "%lld", (long long)t->exit_code);
    log_error("task failed", LOG_STR("task", t->id), LOG_STR("exit_code", exit_code),
              LOG_NUM("retries", t->retries), LOG_STR("failure", t->failure[0] ? t->failure : "none"));
    buffer tail;
    buffer_init(&tail, STDERR_TAIL_BYTES * 2);
    batch_result r;
    bool cut;
    if (batch_task_file_tail(b, t->id, "stderr.txt", STDERR_TAIL_BYTES, &tail, &cut, &r) &&
        batch_result_ok(&r) && tail.len > 0)
        print_tail(t->id, buffer_cstr(&tail), cut);
    buffer_free(&tail);
}

/* The failed tasks, the ones that failed on their own first: exit code,
 * failure, and the end of their stderr. */
void failure_report_print(batch_client *b)
{
    failed_task tasks[FAILED_TASKS_LISTED];
    size_t count = 0, shown = 0, ended = 0;
    batch_result r;
    if (!batch_list_failed_tasks(b, tasks, FAILED_TASKS_LISTED, &count, &r) ||
        !batch_result_ok(&r))
        return;
    for (size_t i = 0; i < count; i++) {
        if (ended_by_termination(&tasks[i]))
            ended++;
        else if (shown++ < FAILED_TASKS_SHOWN)
            report_failed_task(b, &tasks[i]);
    }
    if (shown == 0) /* nothing failed on its own: show what there is */
        for (size_t i = 0; i < count && i < FAILED_TASKS_SHOWN; i++)
            report_failed_task(b, &tasks[i]);
    else if (ended > 0)
        log_error("tasks ended when the Batch job was terminated", LOG_NUM("tasks", ended));
}
