/* What a byte of text is, for the readers and writers of both programs:
 * the length of a well-formed UTF-8 sequence, the value of a hex digit. */
#ifndef TEXT_BYTES_H
#define TEXT_BYTES_H

#include <stddef.h>

/* Length of the well-formed multi-byte UTF-8 sequence at s (at most n
 * bytes, s[0] >= 0x80), 0 if malformed: overlong forms, surrogates and code
 * points past U+10FFFF included. */
size_t utf8_sequence_length(const unsigned char *s, size_t n);

/* 0-15 for a hex digit of either case, -1 for anything else. */
static inline int hex_digit_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The value of four hex digits ("\u" escapes), -1 if any is not one. */
static inline long hex4_value(const char *s)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hex_digit_value(s[i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

#endif
