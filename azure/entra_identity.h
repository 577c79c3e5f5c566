/* Who the offloader is to Entra ID and what it asks tokens for: the
 * settings of each sign-in method and the resources (Batch, Storage). Shared
 * by the token cache (entra_token.c) and the exchanges it sends
 * (entra_exchange.c). */
#ifndef ENTRA_IDENTITY_H
#define ENTRA_IDENTITY_H

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

#endif
