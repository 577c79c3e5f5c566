/* What a TLS backend provides: one table of functions, filled in by
 * tls_openssl.c or tls_wolfssl.c (as curl's lib/vtls does). Only tls.c
 * calls through it. */
#ifndef TLS_BACKEND_H
#define TLS_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tls_io.h"

/* Operations that can fail write the library's reason into reason
 * (TLS_REASON_SIZE bytes) when they return NULL or TLS_IO_ERROR, as curl's
 * backends report theirs through failf. */
struct tls_backend {
    unsigned supports; /* TLS_SUPPORTS_* */
    bool (*init)(void);
    void (*thread_cleanup)(void);
    const char *(*version)(void);

    /* A complete server context: certificate chain, key that matches it,
     * TLS 1.2..1.3 only, ALPN http/1.1. NULL with a reason on failure. */
    void *(*context_new)(const char *cert_path, const char *key_path, char *error,
                         size_t error_size);
    void (*context_free)(void *context);

    void *(*session_new)(void *context, int fd, char *reason);
    tls_io (*handshake)(void *session, char *reason);
    tls_io (*read)(void *session, void *buf, size_t cap, size_t *got, char *reason);
    tls_io (*write)(void *session, const void *buf, size_t len, size_t *sent, char *reason);
    bool (*has_buffered)(void *session); /* read but not yet handed out */
    void (*session_free)(void *session); /* sends close_notify first */

    bool (*hmac_sha256)(const void *key, size_t key_len, const void *data, size_t len,
                        uint8_t mac[32]);
    bool (*random_bytes)(void *out, size_t len);
};

extern const struct tls_backend tls_backend_openssl;
extern const struct tls_backend tls_backend_wolfssl;

#endif
