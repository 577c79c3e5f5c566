/* The one seam between both programs and the TLS/crypto library. The backend
 * (OpenSSL or wolfSSL) is chosen at build time (make TLS=openssl|wolfssl);
 * nothing outside common/tls_*.c includes a TLS library header.
 *
 * Serving (webhook): a tls_server holds the certificate pair in use and swaps
 * in a complete new context only when a reload fully succeeds; connections
 * keep the context they were accepted with until they close.
 * Crypto (both programs): HMAC-SHA256, random bytes. */
#ifndef TLS_H
#define TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tls_io.h"

bool tls_global_init(void);
/* Frees what the library keeps per thread; every thread that used TLS or
 * crypto calls it before it ends. */
void tls_thread_cleanup(void);
/* "OpenSSL 3.0.19 ..." or "wolfSSL 5.5.4". */
const char *tls_backend_version(void);
unsigned tls_backend_supports(void);

bool crypto_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                        uint8_t mac[32]);
bool crypto_random_bytes(void *out, size_t len);

typedef struct tls_server tls_server;
typedef struct tls_connection tls_connection;

typedef enum {
    TLS_RELOAD_UNCHANGED,
    TLS_RELOAD_DONE,
    TLS_RELOAD_FAILED, /* the previous pair stays in use; error says why */
} tls_reload_result;

tls_server *tls_server_open(const char *cert_path, const char *key_path, char *error,
                            size_t error_size);
void tls_server_close(tls_server *server);
/* Reloads when either file changed since the last attempt (a Secret volume
 * swaps symlinks, so the resolved file's identity changes). Thread-safe. */
tls_reload_result tls_server_reload_if_changed(tls_server *server, char *error, size_t error_size);

/* A non-blocking server-side session on fd (the caller still owns fd); NULL
 * with the library's reason in reason[TLS_REASON_SIZE]. */
tls_connection *tls_connection_accept(tls_server *server, int fd, char *reason);
/* Each returns TLS_IO_ERROR with the library's reason for it in
 * tls_connection_error(); TLS_IO_CLOSED is the peer going away, no error. */
tls_io tls_connection_handshake(tls_connection *c);
tls_io tls_connection_read(tls_connection *c, void *buf, size_t cap, size_t *got);
tls_io tls_connection_write(tls_connection *c, const void *buf, size_t len, size_t *sent);
/* Why the last operation returned TLS_IO_ERROR ("" when none did). */
const char *tls_connection_error(const tls_connection *c);
/* Whether the session holds received bytes not yet read (read-ahead): then
 * the socket may say nothing while a request waits here. */
bool tls_connection_has_buffered(tls_connection *c);
/* Sends close_notify (best effort, never blocks) and frees the session. */
void tls_connection_free(tls_connection *c);

#endif
