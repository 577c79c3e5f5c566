/* Registry credentials; see registry_auth.h. Docker config files name Docker
 * Hub "https://index.docker.io/v1/"; hosts are compared after stripping a
 * scheme and path, with index.docker.io and docker.io the same registry. */
#include "registry_auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "json_reader.h"
#include "offload_contract.h"
#include "redact.h"

/* A .dockerconfigjson: a few registries, each a handful of strings. */
#define DOCKER_CONFIG_TOKENS 65536

void image_registry_host(const char *image, char *out, size_t size)
{
    const char *slash = strchr(image, '/');
    size_t len = slash ? (size_t)(slash - image) : 0;
    bool is_host = slash && (memchr(image, '.', len) || memchr(image, ':', len) ||
                             (len == 9 && strncmp(image, "localhost", 9) == 0));
    if (is_host)
        snprintf(out, size, "%.*s", (int)len, image);
    else
        snprintf(out, size, "docker.io");
}

/* "https://index.docker.io/v1/" -> "docker.io"; "myreg.io" stays. */
static void normalize_host(const char *text, char *out, size_t size)
{
    const char *start = strstr(text, "://");
    start = start ? start + 3 : text;
    size_t len = strcspn(start, "/");
    snprintf(out, size, "%.*s", (int)len, start);
    if (strcmp(out, "index.docker.io") == 0 || strcmp(out, "registry-1.docker.io") == 0)
        snprintf(out, size, "docker.io");
}

static bool copy_field(char *out, size_t size, const char *value)
{
    if (!value || strlen(value) >= size)
        return false;
    strcpy(out, value);
    return true;
}

/* One docker config JSON: {"auths": {"host": {"username", "password"} or {"auth"}}}. */
static bool from_docker_config(const char *config_json, const char *host,
                               registry_credentials *out)
{
    json_document doc;
    char error[64];
    if (!json_document_parse(&doc, config_json, strlen(config_json), DOCKER_CONFIG_TOKENS, error,
                             sizeof(error)))
        return false;
    bool found = false;
    json_iterator it = json_iterate(&doc, json_object_get(&doc, 0, "auths"));
    int key;
    while (!found && json_iterator_next(&it, &key)) {
        char *name = json_string_dup(&doc, key);
        char normalized[256];
        normalize_host(name ? name : "", normalized, sizeof(normalized));
        free(name);
        if (strcmp(normalized, host) != 0)
            continue;
        int entry = key + 1;
        char *user = json_string_dup(&doc, json_object_get(&doc, entry, "username"));
        char *password = json_string_dup(&doc, json_object_get(&doc, entry, "password"));
        char *auth = json_string_dup(&doc, json_object_get(&doc, entry, "auth"));
        if (!(user && password) && auth) { /* base64 of "user:password" */
            uint8_t decoded[1280];
            size_t n = 0;
            if (base64_decode(auth, strlen(auth), decoded, sizeof(decoded) - 1, &n)) {
                decoded[n] = '\0';
                char *colon = strchr((char *)decoded, ':');
                if (colon) {
                    *colon = '\0';
                    free(user);
                    free(password);
                    user = strdup((char *)decoded);
                    password = strdup(colon + 1);
                }
            }
        }
        found = copy_field(out->server, sizeof(out->server), host) &&
                copy_field(out->username, sizeof(out->username), user) &&
                copy_field(out->password, sizeof(out->password), password);
        if (found) {
            redact_register_secret(out->password);
            redact_register_secret(auth); /* base64 of the password, with the user */
        }
        free(user);
        free(password);
        free(auth);
    }
    json_document_free(&doc);
    return found;
}

bool registry_credentials_for(const offloader_config *config, const char *image,
                              char **environ_list, registry_credentials *out)
{
    char host[256];
    image_registry_host(image, host, sizeof(host));
    memset(out, 0, sizeof(*out));
    if (config->registry_server) {
        char platform_host[256];
        normalize_host(config->registry_server, platform_host, sizeof(platform_host));
        if (strcmp(platform_host, host) == 0)
            return copy_field(out->server, sizeof(out->server), host) &&
                   copy_field(out->username, sizeof(out->username), config->registry_username) &&
                   copy_field(out->password, sizeof(out->password), config->registry_password);
    }
    /* The pull secrets in any order: a host has one entry in practice. */
    static const char prefix[] = OFFLOAD_ENV_PULL_SECRET_PREFIX;
    for (char **e = environ_list; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        if (strncmp(*e, prefix, sizeof(prefix) - 1) == 0 && eq &&
            from_docker_config(eq + 1, host, out))
            return true;
    }
    return false;
}
