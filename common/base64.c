/* Base64; see base64.h. */
#include "base64.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_SSSE3_ENCODER 1
#endif

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Two output characters per lookup: every 12-bit value's pair, built once.
 * An admission response is mostly its base64 patch, so this loop matters. */
static char pairs[4096][2];
static pthread_once_t pairs_once = PTHREAD_ONCE_INIT;
#ifdef HAVE_SSSE3_ENCODER
static bool have_ssse3; /* set with the pairs */
#endif

static void build_pairs(void)
{
    for (unsigned v = 0; v < 4096; v++) {
        pairs[v][0] = alphabet[v >> 6];
        pairs[v][1] = alphabet[v & 63];
    }
#ifdef HAVE_SSSE3_ENCODER
    have_ssse3 = __builtin_cpu_supports("ssse3");
#endif
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

#ifdef HAVE_SSSE3_ENCODER
/* Twelve bytes into sixteen characters at a time (Wojciech Mula's SSSE3
 * method): a shuffle puts each 3-byte group's bits where two multiplies can
 * cut them into 6-bit indices, and one table shuffle turns the indices into
 * characters. Reads 16 bytes per step, so it stops 4 short of the end.
 * Returns how many input bytes it encoded (a multiple of 12). */
__attribute__((target("ssse3"))) static size_t encode_ssse3(const uint8_t *in, size_t len,
                                                            char *out)
{
    const __m128i spread = _mm_set_epi8(10, 11, 9, 10, 7, 8, 6, 7, 4, 5, 3, 4, 1, 2, 0, 1);
    const __m128i shift = _mm_setr_epi8('a' - 26, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
                                        '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
                                        '0' - 52, '+' - 62, '/' - 63, 'A', 0, 0);
    size_t i = 0;
    for (; i + 16 <= len; i += 12, out += 16) {
        __m128i v = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(in + i)), spread);
        __m128i high = _mm_mulhi_epu16(_mm_and_si128(v, _mm_set1_epi32(0x0fc0fc00)),
                                       _mm_set1_epi32(0x04000040));
        __m128i low = _mm_mullo_epi16(_mm_and_si128(v, _mm_set1_epi32(0x003f03f0)),
                                      _mm_set1_epi32(0x01000010));
        __m128i indices = _mm_or_si128(high, low);
        /* 0..25 -> 13, 26..51 -> 0, 52..61 -> 1..10, 62 -> 11, 63 -> 12: which shift */
        __m128i which = _mm_subs_epu8(indices, _mm_set1_epi8(51));
        __m128i upper = _mm_cmpgt_epi8(_mm_set1_epi8(26), indices);
        which = _mm_or_si128(which, _mm_and_si128(upper, _mm_set1_epi8(13)));
        __m128i text = _mm_add_epi8(indices, _mm_shuffle_epi8(shift, which));
        _mm_storeu_si128((__m128i *)out, text);
    }
    return i;
}

#endif

void base64_encode_into(buffer *out, const void *data, size_t len)
{
    const uint8_t *restrict p = data;
    if (!buffer_reserve(out, (len + 2) / 3 * 4))
        return;
    pthread_once(&pairs_once, build_pairs);
    char *restrict w = out->data + out->len;
    size_t i = 0;
#ifdef HAVE_SSSE3_ENCODER
    if (have_ssse3) {
        i = encode_ssse3(p, len, w);
        w += i / 3 * 4;
    }
#endif
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
