/* Credentials for pulling the worker and aggregator images on Batch nodes
 * (containerSettings.registry): the platform's REGISTRYNAME/USERNAME/PASSWORD,
 * or the Job's own imagePullSecrets, which the kubelet resolved into the
 * offloader pod as BATCH_OFFLOAD_PULL_SECRET_<i> (a docker config JSON). */
#ifndef REGISTRY_AUTH_H
#define REGISTRY_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "offloader_config.h"

typedef struct registry_credentials {
    char server[256];
    char username[256];
    char password[1024];
} registry_credentials;

/* The registry of an image reference, as Docker reads it: the first path
 * component when it has a '.' or ':' or is "localhost", else "docker.io". */
void image_registry_host(const char *image, char *out, size_t size);

/* Credentials for image; false when none apply (a public image). */
bool registry_credentials_for(const offloader_config *config, const char *image,
                              char **environ_list, registry_credentials *out);

#endif
