/* Logging; see log.h. */
#include "log.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buffer.h"
#include "json_writer.h"
#include "redact.h"

static const char *program_name = "batch-offload";
static log_format current_format = LOG_FORMAT_JSON;
static log_level minimum_level = LOG_INFO;
static int log_fd = STDERR_FILENO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_configure(const char *program, log_format format, log_level min_level)
{
    program_name = program;
    current_format = format;
    minimum_level = min_level;
}

void log_set_fd(int fd)
{
    log_fd = fd;
}

/* "2026-12-02T07:01:41.551Z". The date and time to the second are
 * formatted once a second per thread: a busy webhook logs a line per review. */
static void append_timestamp(buffer *line)
{
    static _Thread_local time_t formatted_second = -1;
    static _Thread_local char second[24];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (now.tv_sec != formatted_second) {
        struct tm utc;
        gmtime_r(&now.tv_sec, &utc);
        strftime(second, sizeof(second), "%Y-%m-%dT%H:%M:%S.", &utc);
        formatted_second = now.tv_sec;
    }
    buffer_append_str(line, second);
    long ms = now.tv_nsec / 1000000;
    char digits[5] = {(char)('0' + ms / 100), (char)('0' + ms / 10 % 10), (char)('0' + ms % 10),
                      'Z', '\0'};
    buffer_append(line, digits, 4);
}

/* Whole numbers as they are, others to three decimals (a duration in ms). */
static void append_number(buffer *out, double v)
{
    if (!isfinite(v)) {
        buffer_append_str(out, "0");
    } else if (v == (double)(long long)v && fabs(v) < 1e15) {
        if (v < 0)
            buffer_append_char(out, '-');
        buffer_append_uint(out, (uint64_t)llabs((long long)v));
    } else if (fabs(v) < 1e12) {
        long long thousandths = llround(fabs(v) * 1000.0);
        if (v < 0 && thousandths > 0)
            buffer_append_char(out, '-');
        buffer_append_uint(out, (uint64_t)(thousandths / 1000));
        char fraction[4] = {(char)('0' + thousandths / 100 % 10),
                            (char)('0' + thousandths / 10 % 10), (char)('0' + thousandths % 10),
                            '\0'};
        buffer_append_char(out, '.');
        buffer_append(out, fraction, 3);
    } else {
        buffer_appendf(out, "%.3f", v);
    }
}

/* Redacts text into scratch (reused from field to field), then appends it
 * JSON-escaped. */
static void append_json_text(buffer *line, buffer *scratch, const char *text)
{
    buffer_reset(scratch);
    redact_into(scratch, text, strlen(text));
    json_escape_into(line, buffer_cstr(scratch), scratch->len);
}

static void format_json(buffer *line, log_level level, const char *message,
                        const log_field *fields, size_t count)
{
    buffer scratch;
    buffer_init(&scratch, 0);
    buffer_append_str(line, "{\"time\":\"");
    append_timestamp(line);
    buffer_append_str(line, "\",\"level\":\"");
    buffer_append_str(line, level_names[level]);
    buffer_append_str(line, "\",\"program\":\"");
    append_json_text(line, &scratch, program_name);
    buffer_append_str(line, "\",\"msg\":\"");
    append_json_text(line, &scratch, message);
    buffer_append_char(line, '"');
    for (size_t i = 0; i < count; i++) {
        if (!fields[i].key)
            continue;
        buffer_append_str(line, ",\"");
        json_escape_into(line, fields[i].key, strlen(fields[i].key));
        buffer_append_str(line, "\":");
        if (fields[i].is_number) {
            append_number(line, fields[i].number);
        } else {
            buffer_append_char(line, '"');
            append_json_text(line, &scratch, fields[i].text ? fields[i].text : "");
            buffer_append_char(line, '"');
        }
    }
    buffer_append_str(line, "}\n");
    buffer_free(&scratch);
}

static void format_text(buffer *line, log_level level, const char *message,
                        const log_field *fields, size_t count)
{
    buffer raw;
    buffer_init(&raw, 0);
    buffer_appendf(&raw, "%s: ", program_name);
    if (level != LOG_INFO)
        buffer_appendf(&raw, "%s: ", level_names[level]);
    buffer_append_str(&raw, message);
    for (size_t i = 0; i < count; i++) {
        if (!fields[i].key)
            continue;
        buffer_appendf(&raw, " %s=", fields[i].key);
        if (fields[i].is_number)
            append_number(&raw, fields[i].number);
        else
            buffer_append_str(&raw, fields[i].text ? fields[i].text : "");
    }
    redact_into(line, buffer_cstr(&raw), raw.len);
    buffer_append_char(line, '\n');
    buffer_free(&raw);
}

void log_emit(log_level level, const char *message, const log_field *fields, size_t count)
{
    if (level < minimum_level)
        return;
    buffer line;
    buffer_init(&line, 64 * 1024);
    if (current_format == LOG_FORMAT_JSON)
        format_json(&line, level, message, fields, count);
    else
        format_text(&line, level, message, fields, count);
    if (!buffer_ok(&line)) { /* over the line limit: say so rather than print half a line */
        buffer_reset(&line);
        buffer_appendf(&line, "%s: a log line was too long and was dropped\n", program_name);
    }
    const char *p = line.data;
    size_t left = line.len;
    while (left > 0) {
        ssize_t n = write(log_fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        p += n;
        left -= (size_t)n;
    }
    buffer_free(&line);
}

bool log_limit_pass(log_limit *limit, uint64_t now_ms, uint64_t interval_ms,
                    unsigned long *suppressed)
{
    if (now_ms < limit->next_ms) {
        limit->suppressed++;
        return false;
    }
    *suppressed = limit->suppressed;
    limit->suppressed = 0;
    limit->next_ms = now_ms + interval_ms;
    return true;
}
