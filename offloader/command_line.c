/* Command lines for Batch tasks; see command_line.h. */
#include "command_line.h"

#include <string.h>

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
                char name[1024];
                const char *value = NULL;
                if (name_len < sizeof(name)) {
                    memcpy(name, rest + 1, name_len);
                    name[name_len] = '\0';
                    value = env_list_get(env, name);
                }
                if (value)
                    buffer_append_str(out, value);
                else
                    buffer_append(out, rest - 1, name_len + 3); /* "$(NAME)" as written */
                advance = name_len + 2;
            } else {
                buffer_append_str(out, "$("); /* incomplete reference */
            }
        } else {
            buffer_append_char(out, '$');
            buffer_append_char(out, rest[0]);
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
