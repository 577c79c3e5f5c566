/* Entra ID (Azure AD) access tokens without stored keys: workload identity
 * (a federated Kubernetes service-account token), a client secret, or a
 * managed identity (IMDS). Tokens are cached per resource and fetched again
 * when less than 5 minutes, or half their lifetime, remain. Token requests have their own HTTP client,
 * so a request being signed can ask for a token. */
#ifndef ENTRA_TOKEN_H
#define ENTRA_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

#include "entra_identity.h"
#include "retry_policy.h"


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
#endif
