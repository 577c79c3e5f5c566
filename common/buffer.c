/* Growable byte buffer; see buffer.h. */
#include "buffer.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buffer_init(buffer *b, size_t limit)
{
    memset(b, 0, sizeof(*b));
    b->limit = limit;
}

bool buffer_budget_take(buffer_budget *budget, size_t n)
{
    size_t used = atomic_load_explicit(&budget->used, memory_order_relaxed);
    do {
        if (n > budget->limit - used)
            return false;
    } while (!atomic_compare_exchange_weak_explicit(&budget->used, &used, used + n,
                                                    memory_order_relaxed, memory_order_relaxed));
    return true;
}

void buffer_budget_give_back(buffer_budget *budget, size_t n)
{
    atomic_fetch_sub_explicit(&budget->used, n, memory_order_relaxed);
}

void buffer_free(buffer *b)
{
    if (b->budget)
        buffer_budget_give_back(b->budget, b->cap);
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = false;
}

void buffer_reset(buffer *b)
{
    b->len = 0;
    b->failed = false;
    if (b->data)
        b->data[0] = '\0';
}

/* Grows the allocation to cap bytes, drawing on the budget first. */
static bool grow_to(buffer *b, size_t cap)
{
    if (b->budget && !buffer_budget_take(b->budget, cap - b->cap)) {
        b->failed = true;
        return false;
    }
    char *p = realloc(b->data, cap);
    if (!p) {
        if (b->budget)
            buffer_budget_give_back(b->budget, cap - b->cap);
        b->failed = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

/* The capacity len + extra + 1 needs, or 0 when that is over a limit. */
static size_t needed_capacity(buffer *b, size_t extra)
{
    if (b->failed)
        return 0;
    if (extra > SIZE_MAX / 2 - b->len || (b->limit && b->len + extra > b->limit)) {
        b->failed = true;
        return 0;
    }
    return b->len + extra + 1;
}

bool buffer_reserve(buffer *b, size_t extra)
{
    size_t need = needed_capacity(b, extra);
    if (need == 0)
        return false;
    if (need <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    return grow_to(b, cap);
}

bool buffer_reserve_exact(buffer *b, size_t extra)
{
    size_t need = needed_capacity(b, extra);
    return need != 0 && (need <= b->cap || grow_to(b, need));
}

bool buffer_append(buffer *b, const void *data, size_t len)
{
    if (!(b->data && buffer_has_room(b, len)) && !buffer_reserve(b, len))
        return false;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return true;
}

bool buffer_append_str(buffer *b, const char *s)
{
    return buffer_append(b, s, strlen(s));
}

bool buffer_append_uint(buffer *b, uint64_t v)
{
    char digits[20];
    char *d = digits + sizeof(digits);
    do {
        *--d = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return buffer_append(b, d, (size_t)(digits + sizeof(digits) - d));
}

bool buffer_vappendf(buffer *b, const char *fmt, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0 || !buffer_reserve(b, (size_t)n)) {
        b->failed = true;
        return false;
    }
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return true;
}

bool buffer_appendf(buffer *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bool ok = buffer_vappendf(b, fmt, ap);
    va_end(ap);
    return ok;
}

void buffer_consume(buffer *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
    } else {
        memmove(b->data, b->data + n, b->len - n);
        b->len -= n;
    }
    if (b->data)
        b->data[b->len] = '\0';
}

void buffer_shrink(buffer *b, size_t keep_cap)
{
    if (b->cap <= keep_cap || b->len + 1 > keep_cap)
        return;
    char *p = realloc(b->data, keep_cap);
    if (p) {
        if (b->budget)
            buffer_budget_give_back(b->budget, b->cap - keep_cap);
        b->data = p;
        b->cap = keep_cap;
    }
}
