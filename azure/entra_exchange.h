/* One Entra ID token exchange, without the HTTP: the request for each
 * method, and what the answer says. entra_token.c sends them and caches.
 *
 * Client credentials (workload identity and client secret) use the v2 token
 * endpoint: POST {authority}/{tenant}/oauth2/v2.0/token, form-encoded
 * grant_type=client_credentials, client_id, scope and either client_secret or
 * client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer
 * with client_assertion = the projected token file, read afresh each time
 * because the kubelet rotates it. Managed identity asks IMDS:
 * GET {imds}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=...
 * with "Metadata: true". (learn.microsoft.com: v2-oauth2-client-creds-grant-flow,
 * managed identities how-to; docs/azure-facts.md 5.) */
#ifndef ENTRA_EXCHANGE_H
#define ENTRA_EXCHANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "entra_identity.h"
#include "http_client.h"

/* Fills x (initialized here) with the token request. False with the reason
 * when the federated token file cannot be read. */
bool entra_request_build(const entra_settings *s, const entra_resource *r, http_exchange *x,
                         char *error, size_t error_size);

/* The access token (malloc'd, registered for redaction) and its lifetime in
 * seconds from an answer of HTTP `status`; NULL with the reason otherwise
 * (the endpoint's own error code and description when it refused). */
char *entra_answer_read(long status, const char *body, size_t len, int64_t *lifetime,
                        char *error, size_t error_size);

#endif
