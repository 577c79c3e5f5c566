/* Base64; see base64.h. */
#include "base64.h"

#include <pthread.h>
#include <string.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Two output characters per lookup: every 12-bit value's pair, built once.
 * An admission response is mostly its base64 patch, so this loop matters. */
static char pairs[4096][2];
static pthread_once_t pairs_once = PTHREAD_ONCE_INIT;

static void build_pairs(void)
{
    for (unsigned v = 0; v < 4096; v++) {
        pairs[v][0] = alphabet[v >> 6];
        pairs[v][1] = alphabet[v & 63];
    }
}

static uint64_t load_big_endian_64(const uint8_t *p)
{
    uint64_t x;
    memcpy(&x, p, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    x = __builtin_bswap64(x);
#endif
    return x;
}

void base64_encode_into(buffer *out, const void *data, size_t len)
{
    const uint8_t *restrict p = data;
    if (!buffer_reserve(out, (len + 2) / 3 * 4))
        return;
    pthread_once(&pairs_once, build_pairs);
    char *restrict w = out->data + out->len;
    size_t i = 0;
    /* Six bytes from one 8-byte load (big-endian order: base64 reads the
     * high bits first) become eight characters in one store. */
    for (; i + 8 <= len; i += 6, w += 8) {
        uint64_t x = load_big_endian_64(p + i);
        uint16_t quarter[4];
        memcpy(&quarter[0], pairs[x >> 52], 2);
        memcpy(&quarter[1], pairs[(x >> 40) & 4095], 2);
        memcpy(&quarter[2], pairs[(x >> 28) & 4095], 2);
        memcpy(&quarter[3], pairs[(x >> 16) & 4095], 2);
        memcpy(w, quarter, 8);
    }
    for (; i + 2 < len; i += 3, w += 4) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        memcpy(w, pairs[v >> 12], 2);
        memcpy(w + 2, pairs[v & 4095], 2);
    }
    if (i < len) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);
        *w++ = alphabet[v >> 18];
        *w++ = alphabet[(v >> 12) & 63];
        *w++ = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
        *w++ = '=';
    }
    out->len = (size_t)(w - out->data);
    out->data[out->len] = '\0';
}

static int decode_char(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

bool base64_decode(const char *text, size_t len, uint8_t *out, size_t out_cap, size_t *out_len)
{
    if (len % 4 != 0)
        return false;
    size_t n = 0;
    for (size_t i = 0; i < len; i += 4) {
        int v[4];
        int pad = 0;
        for (int j = 0; j < 4; j++) {
            char c = text[i + j];
            if (c == '=' && i + 4 == len && j >= 2) {
                v[j] = 0;
                pad++;
                continue;
            }
            if (pad)
                return false; /* data after padding */
            v[j] = decode_char(c);
            if (v[j] < 0)
                return false;
        }
        uint32_t bits =
            (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        size_t bytes = 3 - (size_t)pad;
        if (n + bytes > out_cap)
            return false;
        out[n++] = (uint8_t)(bits >> 16);
        if (bytes > 1)
            out[n++] = (uint8_t)(bits >> 8);
        if (bytes > 2)
            out[n++] = (uint8_t)bits;
    }
    *out_len = n;
    return true;
}
