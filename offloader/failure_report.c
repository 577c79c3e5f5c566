/* Telling the user why the work failed: the first tasks that failed on their
 * own (not those Batch ended when the job was terminated), each with its exit
 * code, failure and the end of its stderr.txt, a log line per line of it. */
#include "failure_report.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

/* The last 2 KiB of each stderr.txt, for at most 5 tasks out of the first
 * 100 listed; an Event for the first 3. */
#define STDERR_TAIL_BYTES 2048
#define STDERR_HEAD_BYTES 512 /* where the Event's first line of stderr is read */
#define FAILED_TASKS_SHOWN 5
#define FAILED_TASKS_LISTED 100
#define FAILED_TASK_EVENTS 3

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

/* The first line of stderr that says something (the error a program
 * prints first, which the Event quotes), from its head when the tail is
 * not the whole file. */
static void first_line(const char *text, char *out, size_t size)
{
    while (*text == '\n' || *text == '\r')
        text++;
    size_t len = strcspn(text, "\r\n");
    snprintf(out, size, "%.*s", (int)(len < 200 ? len : 200), text);
}

static void first_stderr_line(batch_client *b, const char *task_id, const buffer *tail, bool cut,
                              char *out, size_t size)
{
    if (!cut) {
        first_line(buffer_cstr(tail), out, size);
        return;
    }
    buffer head;
    buffer_init(&head, STDERR_HEAD_BYTES);
    batch_result r;
    if (batch_task_file_head(b, task_id, "stderr.txt", STDERR_HEAD_BYTES, &head, &r) &&
        batch_result_ok(&r))
        first_line(buffer_cstr(&head), out, size);
    buffer_free(&head);
}

static void report_failed_task(batch_client *b, const failed_task *t, job_reporter *reporter)
{
    char exit_code[32] = "none";
    if (t->has_exit_code)
        snprintf(exit_code, sizeof(exit_code), "%lld", (long long)t->exit_code);
    log_error("task failed", LOG_STR("task", t->id), LOG_STR("exit_code", exit_code),
              LOG_NUM("retries", t->retries), LOG_STR("failure", t->failure[0] ? t->failure : "none"));
    buffer tail;
    buffer_init(&tail, STDERR_TAIL_BYTES * 2);
    batch_result r;
    bool cut = false;
    bool have_tail = batch_task_file_tail(b, t->id, "stderr.txt", STDERR_TAIL_BYTES, &tail, &cut,
                                          &r) &&
                     batch_result_ok(&r) && tail.len > 0;
    if (have_tail)
        print_tail(t->id, buffer_cstr(&tail), cut);
    if (reporter) {
        char line[256] = "";
        if (have_tail)
            first_stderr_line(b, t->id, &tail, cut, line, sizeof(line));
        char message[512];
        snprintf(message, sizeof(message), "task %.64s failed after %lld retr%s, exit code %s%s%s",
                 t->id, (long long)t->retries, t->retries == 1 ? "y" : "ies", exit_code,
                 line[0] ? ": " : "", line);
        job_reporter_event(reporter, EVENT_WARNING, "TaskFailed", message);
    }
    buffer_free(&tail);
}

/* The failed tasks, the ones that failed on their own first: exit code,
 * failure, and the end of their stderr. */
void failure_report_print(batch_client *b, job_reporter *reporter)
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
            report_failed_task(b, &tasks[i], shown <= FAILED_TASK_EVENTS ? reporter : NULL);
    }
    if (shown == 0) /* nothing failed on its own: show what there is */
        for (size_t i = 0; i < count && i < FAILED_TASKS_SHOWN; i++)
            report_failed_task(b, &tasks[i], i < FAILED_TASK_EVENTS ? reporter : NULL);
    else if (ended > 0)
        log_error("tasks ended when the Batch job was terminated", LOG_NUM("tasks", ended));
}
