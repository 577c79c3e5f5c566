/* Logging for both programs: one line per event on stderr, written with a
 * single write() so lines from threads never interleave, secrets redacted.
 * The webhook writes JSON lines; the offloader writes plain text a person
 * reads with kubectl logs. */
#ifndef LOG_H
#define LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR } log_level;
typedef enum { LOG_FORMAT_JSON, LOG_FORMAT_TEXT } log_format;

typedef struct log_field {
    const char *key; /* NULL marks an unused slot */
    const char *text;
    double number;
    bool is_number;
} log_field;

#define LOG_STR(k, v) ((log_field){.key = (k), .text = (v)})
#define LOG_NUM(k, v) ((log_field){.key = (k), .number = (double)(v), .is_number = true})

void log_configure(const char *program, log_format format, log_level min_level);
/* Where lines go (a test or a pipe); stderr by default. */
void log_set_fd(int fd);
void log_emit(log_level level, const char *message, const log_field *fields, size_t count);

#define LOG_FIELDS_(...) ((const log_field[]){{0}, __VA_ARGS__})
#define LOG_COUNT_(...) (sizeof(LOG_FIELDS_(__VA_ARGS__)) / sizeof(log_field))
#define log_at(level, message, ...)                                                                \
    log_emit(level, message, LOG_FIELDS_(__VA_ARGS__), LOG_COUNT_(__VA_ARGS__))
/* At most one line per interval for something that can happen a thousand
 * times a second (a scan of TLS handshakes, say): log_limit_pass() says
 * whether to log now, and how many were left out since the last line. */
typedef struct log_limit {
    uint64_t next_ms;
    unsigned long suppressed;
} log_limit;
bool log_limit_pass(log_limit *limit, uint64_t now_ms, uint64_t interval_ms,
                    unsigned long *suppressed);

#define log_debug(message, ...) log_at(LOG_DEBUG, message, __VA_ARGS__)
#define log_info(message, ...) log_at(LOG_INFO, message, __VA_ARGS__)
#define log_warn(message, ...) log_at(LOG_WARN, message, __VA_ARGS__)
#define log_error(message, ...) log_at(LOG_ERROR, message, __VA_ARGS__)

#endif
