/* The checks of the contract's values both programs make; see
 * offload_contract.h. */
#include "offload_contract.h"

#include <string.h>

static const char *const auth_names[] = {
    [OFFLOAD_AUTH_SHARED_KEY] = "shared-key",
    [OFFLOAD_AUTH_WORKLOAD_IDENTITY] = "workload-identity",
    [OFFLOAD_AUTH_CLIENT_SECRET] = "client-secret",
    [OFFLOAD_AUTH_MANAGED_IDENTITY] = "managed-identity",
};

bool offload_auth_from_name(const char *name, offload_auth *auth)
{
    for (size_t i = 0; i < sizeof(auth_names) / sizeof(auth_names[0]); i++)
        if (strcmp(name, auth_names[i]) == 0) {
            *auth = (offload_auth)i;
            return true;
        }
    return false;
}

bool offload_priority_is_valid(const char *value)
{
    return strcmp(value, "spot") == 0 || strcmp(value, "dedicated") == 0;
}

bool offload_spot_fallback_is_valid(const char *value)
{
    return strcmp(value, "wait") == 0 || strcmp(value, "dedicated") == 0;
}

bool offload_inputs_is_valid(const char *value)
{
    return strcmp(value, "required") == 0 || strcmp(value, "optional") == 0;
}
