/* Entra ID (Azure AD) access tokens without stored keys: workload identity
 * (a federated Kubernetes service-account token), a client secret, or a
 * managed identity (IMDS). Tokens are cached per resource and fetched again
 * when less than 5 minutes, or half their lifetime, remain. Token requests have their own HTTP client,
 * so a request being signed can ask for a token. */
#ifndef ENTRA_TOKEN_H
#define ENTRA_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

#include "retry_policy.h"

typedef enum {
    ENTRA_WORKLOAD_IDENTITY, /* AZURE_FEDERATED_TOKEN_FILE as client_assertion */
    ENTRA_CLIENT_SECRET,     /* AZURE_CLIENT_SECRET */
    ENTRA_MANAGED_IDENTITY,  /* the node's identity, from IMDS */
} entra_method;

typedef struct entra_settings {
    entra_method method;
    const char *tenant_id;
    const char *client_id; /* optional for a system-assigned managed identity */
    const char *client_secret;
    const char *federated_token_file;
    const char *authority_host; /* https://login.microsoftonline.com */
    const char *imds_endpoint;  /* http://169.254.169.254 */
} entra_settings;

/* What a token is for: the v2 scope, and the resource as IMDS names it. */
typedef struct entra_resource {
    const char *scope;
    const char *resource;
} entra_resource;

extern const entra_resource ENTRA_BATCH;   /* https://batch.core.windows.net//.default */
extern const entra_resource ENTRA_STORAGE; /* https://storage.azure.com/.default */

typedef struct entra_tokens entra_tokens;

entra_tokens *entra_tokens_new(const entra_settings *settings, const retry_policy *policy,
                               volatile const int *cancel);
void entra_tokens_free(entra_tokens *tokens);
/* A token valid for a while longer, or NULL with the reason; *refused is
 * then true when the identity platform answered no (a wrong secret, an
 * untrusted assertion: retrying will not help) and false when it did not
 * answer. The pointer stays valid until the next call for the same resource. */
const char *entra_token_for(entra_tokens *tokens, const entra_resource *resource, char *error,
                            size_t error_size, bool *refused);
/* Token requests made (for tests of the cache). */
unsigned entra_token_requests(const entra_tokens *tokens);

#endif
