/* A growable byte buffer with a hard size limit. Every builder in both programs
 * (JSON, HTTP responses, signed strings) writes into one of these. Errors are
 * sticky: callers append freely and check buffer_ok() once at the end. */
#ifndef BUFFER_H
#define BUFFER_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Memory shared by many buffers, such as every connection's request and
 * answer: a buffer that draws on a budget grows only while the total
 * allocated by all of them stays within `limit` (thread-safe). */
typedef struct buffer_budget {
    atomic_size_t used;
    size_t limit;
} buffer_budget;

typedef struct buffer {
    char *data;   /* always NUL-terminated when non-NULL */
    size_t len;
    size_t cap;   /* allocated bytes, including the spare NUL byte */
    size_t limit; /* maximum len; 0 means no limit */
    bool failed;  /* an append failed (allocation, limit or budget) */
    buffer_budget *budget; /* NULL: allocations are not counted */
} buffer;

void buffer_init(buffer *b, size_t limit);
/* Whether n more bytes would fit the budget, taking them if so. */
bool buffer_budget_take(buffer_budget *budget, size_t n);
void buffer_budget_give_back(buffer_budget *budget, size_t n);
void buffer_free(buffer *b);
void buffer_reset(buffer *b);
bool buffer_reserve(buffer *b, size_t extra);
/* Room for exactly extra more bytes, for a size known in advance (a request
 * body of a given Content-Length): no doubling, so nothing is wasted. */
bool buffer_reserve_exact(buffer *b, size_t extra);
/* Whether extra more bytes (and the NUL) fit without growing or passing the
 * limit: the writers' fast paths check this inline. */
static inline bool buffer_has_room(const buffer *b, size_t extra)
{
    return !b->failed && extra < b->cap - b->len && (!b->limit || extra <= b->limit - b->len);
}
bool buffer_append(buffer *b, const void *data, size_t len);
bool buffer_append_str(buffer *b, const char *s);
/* Decimal digits of v, without printf (hot paths: HTTP heads, JSON numbers). */
bool buffer_append_uint(buffer *b, uint64_t v);
bool buffer_appendf(buffer *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool buffer_vappendf(buffer *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Drops the first n bytes, keeping the rest (a pipelined request, say). */
void buffer_consume(buffer *b, size_t n);
/* Gives the memory back when a big request left a big buffer behind. */
void buffer_shrink(buffer *b, size_t keep_cap);
static inline bool buffer_ok(const buffer *b) { return !b->failed; }

/* JSON and header writers append byte by byte: inline, skipping the general
 * path while there is room (len + 1 stays below cap, so the NUL fits too). */
static inline bool buffer_append_char(buffer *b, char c)
{
    if (b->data && buffer_has_room(b, 1)) {
        b->data[b->len++] = c;
        b->data[b->len] = '\0';
        return true;
    }
    return buffer_append(b, &c, 1);
}
static inline const char *buffer_cstr(const buffer *b) { return b->data ? b->data : ""; }

#endif
