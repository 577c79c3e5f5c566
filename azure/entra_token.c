/* Entra ID tokens; see entra_token.h. The exchange itself (request and
 * answer) is entra_exchange.c; here: the cache and the HTTP. */
#include "entra_token.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "entra_exchange.h"
#include "http_client.h"

#define REFRESH_MARGIN_SECONDS 300
#define CACHED_RESOURCES 4

const entra_resource ENTRA_BATCH = {"https://batch.core.windows.net//.default",
                                    "https://batch.core.windows.net/"};
const entra_resource ENTRA_STORAGE = {"https://storage.azure.com/.default",
                                      "https://storage.azure.com/"};

typedef struct cached_token {
    const entra_resource *resource;
    char *token;
    time_t refresh_at; /* 5 minutes, or half its lifetime, before it expires */
} cached_token;

struct entra_tokens {
    entra_settings settings;
    http_client *http;
    cached_token cache[CACHED_RESOURCES];
};

entra_tokens *entra_tokens_new(const entra_settings *settings, const retry_policy *policy,
                               volatile const int *cancel)
{
    entra_tokens *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->settings = *settings;
    t->http = http_client_new(policy, cancel);
    if (!t->http) {
        free(t);
        return NULL;
    }
    return t;
}

void entra_tokens_free(entra_tokens *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < CACHED_RESOURCES; i++)
        free(t->cache[i].token);
    http_client_free(t->http);
    free(t);
}


/* Keeps a new token until 5 minutes, or half its lifetime, before it expires. */
static bool remember(cached_token *entry, char *token, int64_t lifetime)
{
    if (!token)
        return false;
    free(entry->token);
    entry->token = token;
    int64_t margin = lifetime / 2 < REFRESH_MARGIN_SECONDS ? lifetime / 2 : REFRESH_MARGIN_SECONDS;
    entry->refresh_at = time(NULL) + (time_t)(lifetime - margin);
    return true;
}

const char *entra_token_for(entra_tokens *t, const entra_resource *r, char *error,
                            size_t error_size, bool *refused)
{
    *refused = false;
    cached_token *entry = NULL;
    for (size_t i = 0; i < CACHED_RESOURCES && !entry; i++)
        if (t->cache[i].resource == r || !t->cache[i].resource)
            entry = &t->cache[i];
    if (!entry) {
        snprintf(error, error_size, "too many token resources");
        return NULL;
    }
    entry->resource = r;
    if (entry->token && time(NULL) < entry->refresh_at)
        return entry->token;
    http_exchange x;
    memset(&x, 0, sizeof(x));
    const char *result = NULL;
    int64_t lifetime = 0;
    if (!entra_request_build(&t->settings, r, &x, error, error_size)) {
        http_exchange_free(&x);
        *refused = true; /* the token file cannot be read: not something a retry fixes */
        return NULL;
    }
    if (!http_client_run_one(t->http, &x)) {
        snprintf(error, error_size, "cancelled");
    } else if (x.status == 0) {
        snprintf(error, error_size, "the token endpoint did not answer: %s", x.error);
    } else {
        char *token = entra_answer_read(x.status, x.response.data, x.response.len, &lifetime,
                                        error, error_size);
        if (remember(entry, token, lifetime))
            result = entry->token;
        else
            *refused = http_exchange_answer(&x) == ANSWER_REFUSED;
    }
    http_exchange_free(&x);
    return result;
}
