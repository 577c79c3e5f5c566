/* Command lines for Batch tasks; see command_line.h. */
#include "command_line.h"

#include <string.h>

/* Length of the valid UTF-8 sequence at s (at most avail bytes), 0 if
 * invalid: what Go's utf8.DecodeRuneInString accepts (no overlong forms,
 * no surrogates, nothing above U+10FFFF). */
static size_t utf8_sequence_length(const unsigned char *s, size_t avail)
{
    if (s[0] < 0x80)
        return 1;
    size_t n = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 ? 2 : 0;
    if (n == 0 || s[0] > 0xF4 || n > avail)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] > 0x9F) ||
        (s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] > 0x8F))
        return 0;
    return n;
}

void kubelet_expand(const char *input, const env_list *env, buffer *out)
{
    size_t len = strlen(input);
    size_t checkpoint = 0;
    for (size_t cursor = 0; cursor < len; cursor++) {
        if (input[cursor] != '$' || cursor + 1 >= len)
            continue;
        buffer_append(out, input + checkpoint, cursor - checkpoint);
        const char *rest = input + cursor + 1;
        size_t advance = 1;
        if (rest[0] == '$') {
            buffer_append_char(out, '$'); /* escaped operator */
        } else if (rest[0] == '(') {
            const char *close = strchr(rest + 1, ')');
            if (close) {
                size_t name_len = (size_t)(close - rest - 1);
                const char *value = env_list_get_n(env, rest + 1, name_len);
                if (value)
                    buffer_append_str(out, value);
                else
                    buffer_append(out, rest - 1, name_len + 3); /* "$(NAME)" as written */
                advance = name_len + 2;
            } else {
                buffer_append_str(out, "$("); /* incomplete reference */
            }
        } else {
            /* "$" and the next character, kept; Go decodes it as a rune, so
             * a byte that starts no valid UTF-8 sequence becomes U+FFFD. */
            size_t n = utf8_sequence_length((const unsigned char *)rest, len - cursor - 1);
            buffer_append_char(out, '$');
            if (n > 0)
                buffer_append(out, rest, n);
            else
                buffer_append_str(out, "\xEF\xBF\xBD");
            advance = n > 0 ? n : 1;
        }
        cursor += advance;
        checkpoint = cursor + 1;
    }
    buffer_append(out, input + checkpoint, len - checkpoint);
}

static bool is_plain(const char *word)
{
    if (!*word)
        return false;
    for (const char *c = word; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              strchr("_-./:=@%+,", *c)))
            return false;
    return true;
}

void command_line_append_word(buffer *out, const char *word)
{
    if (out->len > 0)
        buffer_append_char(out, ' ');
    if (is_plain(word)) {
        buffer_append_str(out, word);
        return;
    }
    buffer_append_char(out, '\'');
    for (const char *c = word; *c; c++) {
        if (*c == '\'')
            buffer_append_str(out, "'\\''");
        else
            buffer_append_char(out, *c);
    }
    buffer_append_char(out, '\'');
}
