/* Azure and image name rules; see azure_names.h. */
#include "azure_names.h"

#include <string.h>

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool all_chars_in(const char *s, size_t min, size_t max, const char *extra)
{
    size_t n = strlen(s);
    if (n < min || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_alnum(s[i]) && !strchr(extra, s[i]))
            return false;
    return true;
}

bool azure_batch_id_is_valid(const char *id)
{
    return all_chars_in(id, 1, 64, "-_");
}

bool azure_vm_size_is_valid(const char *size)
{
    return all_chars_in(size, 1, 64, "_");
}

bool azure_storage_account_is_valid(const char *name)
{
    size_t n = strlen(name);
    if (n < 3 || n > 24)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_lower_alnum(name[i]))
            return false;
    return true;
}

bool azure_container_name_is_valid(const char *name)
{
    size_t n = strlen(name);
    if (n < 3 || n > 63 || !is_lower_alnum(name[0]) || !is_lower_alnum(name[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (is_lower_alnum(name[i]))
            continue;
        if (name[i] != '-' || name[i - 1] == '-')
            return false;
    }
    return true;
}

bool azure_blob_prefix_is_valid(const char *prefix)
{
    if (!all_chars_in(prefix, 1, 512, "-._~/"))
        return false;
    const char *segment = prefix;
    for (;;) {
        const char *slash = strchr(segment, '/');
        size_t len = slash ? (size_t)(slash - segment) : strlen(segment);
        if (len == 0 || (len == 1 && segment[0] == '.') ||
            (len == 2 && segment[0] == '.' && segment[1] == '.'))
            return false;
        if (!slash)
            return true;
        segment = slash + 1;
    }
}

/* path-component: [a-z0-9]+ joined by '.', '_', '__' or runs of '-'. */
static bool path_component_is_valid(const char *s, size_t n)
{
    if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
        return false;
    for (size_t i = 1; i < n; i++) {
        if (is_lower_alnum(s[i]) || s[i] == '-')
            continue;
        if (s[i] == '.' && is_lower_alnum(s[i - 1]))
            continue;
        if (s[i] == '_' && (is_lower_alnum(s[i - 1]) || (s[i - 1] == '_' && i >= 2 &&
                                                          is_lower_alnum(s[i - 2]))))
            continue;
        return false;
    }
    return true;
}

/* host[:port]: DNS labels joined by '.', or "localhost". */
static bool host_is_valid(const char *s, size_t n)
{
    const char *colon = memchr(s, ':', n);
    size_t host_len = colon ? (size_t)(colon - s) : n;
    if (host_len == 0)
        return false;
    for (size_t i = 0; i < host_len; i++)
        if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '.')
            return false;
    if (colon) {
        size_t port_len = n - host_len - 1;
        if (port_len == 0 || port_len > 5)
            return false;
        for (size_t i = host_len + 1; i < n; i++)
            if (s[i] < '0' || s[i] > '9')
                return false;
    }
    return true;
}

static bool tag_is_valid(const char *s, size_t n)
{
    if (n == 0 || n > 128 || !(is_alnum(s[0]) || s[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!is_alnum(s[i]) && !strchr("_.-", s[i]))
            return false;
    return true;
}

static bool digest_is_valid(const char *s)
{
    if (strncmp(s, "sha256:", 7) != 0 || strlen(s + 7) != 64)
        return false;
    for (const char *p = s + 7; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

bool image_reference_is_valid(const char *ref)
{
    size_t total = strlen(ref);
    if (total == 0 || total > 512)
        return false;
    const char *at = strchr(ref, '@');
    if (at && !digest_is_valid(at + 1))
        return false;
    size_t name_len = at ? (size_t)(at - ref) : total;
    /* A tag is a ':' after the last '/'. */
    const char *last_slash = NULL;
    for (size_t i = 0; i < name_len; i++)
        if (ref[i] == '/')
            last_slash = ref + i;
    const char *last_part = last_slash ? last_slash + 1 : ref;
    const char *colon = memchr(last_part, ':', (size_t)(ref + name_len - last_part));
    if (colon) {
        if (!tag_is_valid(colon + 1, (size_t)(ref + name_len - colon - 1)))
            return false;
        name_len = (size_t)(colon - ref);
    }
    /* The first component is a host when it has '.', ':' or is localhost. */
    const char *p = ref;
    const char *end = ref + name_len;
    const char *slash = memchr(p, '/', name_len);
    if (slash) {
        size_t first = (size_t)(slash - p);
        if (memchr(p, '.', first) || memchr(p, ':', first) ||
            (first == 9 && memcmp(p, "localhost", 9) == 0)) {
            if (!host_is_valid(p, first))
                return false;
            p = slash + 1;
        }
    }
    if (p >= end)
        return false;
    while (p < end) {
        const char *next = memchr(p, '/', (size_t)(end - p));
        size_t len = next ? (size_t)(next - p) : (size_t)(end - p);
        if (!path_component_is_valid(p, len))
            return false;
        if (!next)
            break;
        p = next + 1;
        if (p >= end)
            return false;
    }
    return true;
}

bool azure_marketplace_image_is_valid(const char *image)
{
    int parts = 1;
    for (const char *c = image; *c; c++) {
        if (*c == ':') {
            if (c == image || c[1] == ':' || c[1] == '\0')
                return false;
            parts++;
        } else if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                     (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' || *c == '.')) {
            return false;
        }
    }
    return parts == 4;
}
