/* TLS backend over OpenSSL (1.1.1 or 3.x); see tls_backend.h. */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>

#include "tls_backend.h"

/* TLS 1.2: forward-secret AEAD suites only. TLS 1.3 suites are all fine. */
#define TLS12_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20"

static bool openssl_init(void)
{
    return OPENSSL_init_ssl(0, NULL) == 1;
}

static void openssl_thread_cleanup(void)
{
    OPENSSL_thread_stop();
}

static const char *openssl_version(void)
{
    return OpenSSL_version(OPENSSL_VERSION);
}

/* The newest queued error as text, and the queue cleared. */
static void describe_error(const char *what, const char *path, char *error, size_t size)
{
    unsigned long code = ERR_peek_last_error();
    char reason[256] = "unknown error";
    if (code)
        ERR_error_string_n(code, reason, sizeof(reason));
    snprintf(error, size, "%s %s: %s", what, path, reason);
    ERR_clear_error();
}

/* The API server offers only http/1.1; never agree to anything else. */
static int select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)ssl;
    (void)arg;
    static const unsigned char http11[] = "\x08http/1.1";
    unsigned char *selected;
    if (SSL_select_next_proto(&selected, outlen, http11, sizeof(http11) - 1, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
}

static void *openssl_context_new(const char *cert_path, const char *key_path, char *error,
                                 size_t error_size)
{
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        describe_error("cannot create TLS context for", cert_path, error, error_size);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 SSL_OP_NO_COMPRESSION);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
    /* HTTP clients often close without close_notify; every request says its
     * length, so a cut-short one is seen anyway. A close, then, not an error. */
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
    /* Idle keep-alive connections give their I/O buffers back. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* A request's TLS record in one read(), not its header and body apart. */
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_sess_set_cache_size(ctx, 1024);
    SSL_CTX_set_num_tickets(ctx, 1);
    SSL_CTX_set_alpn_select_cb(ctx, select_alpn, NULL);
    if (SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1) {
        describe_error("cannot set ciphers for", cert_path, error, error_size);
        goto error;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_path) != 1) {
        describe_error("cannot load certificate", cert_path, error, error_size);
        goto error;
    }
    /* Loading a key that is not the certificate's fails here already. */
    if (SSL_CTX_use_PrivateKey_file(ctx, key_path, SSL_FILETYPE_PEM) != 1 &&
        ERR_GET_REASON(ERR_peek_last_error()) != X509_R_KEY_VALUES_MISMATCH) {
        describe_error("cannot load private key", key_path, error, error_size);
        goto error;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        ERR_clear_error();
        snprintf(error, error_size, "private key %s does not match certificate %s", key_path,
                 cert_path);
        goto error;
    }
    return ctx;
error:
    SSL_CTX_free(ctx);
    return NULL;
}

static void openssl_context_free(void *context)
{
    SSL_CTX_free(context);
}

/* The library's reason for the newest queued error ("unsupported protocol",
 * "no shared cipher", ...), and the queue cleared. */
static void take_reason(char *reason)
{
    unsigned long code = ERR_peek_last_error();
    const char *text = code ? ERR_reason_error_string(code) : NULL;
    snprintf(reason, TLS_REASON_SIZE, "%s", text ? text : "unknown TLS error");
    ERR_clear_error();
}

static void *openssl_session_new(void *context, int fd, char *reason)
{
    ERR_clear_error();
    SSL *ssl = SSL_new(context);
    if (!ssl || SSL_set_fd(ssl, fd) != 1) {
        take_reason(reason);
        SSL_free(ssl);
        return NULL;
    }
    SSL_set_accept_state(ssl);
    return ssl;
}

/* A peer that resets or simply goes away is a close, not an error. */
static tls_io map_result(SSL *ssl, int ret, char *reason)
{
    int e = SSL_get_error(ssl, ret);
    switch (e) {
    case SSL_ERROR_WANT_READ:
        return TLS_IO_WANT_READ;
    case SSL_ERROR_WANT_WRITE:
        return TLS_IO_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN:
        return TLS_IO_CLOSED;
    case SSL_ERROR_SYSCALL:
        ERR_clear_error();
        if (errno == 0 || errno == ECONNRESET || errno == EPIPE)
            return TLS_IO_CLOSED;
        snprintf(reason, TLS_REASON_SIZE, "%s", strerror(errno));
        return TLS_IO_ERROR;
    default:
        take_reason(reason);
        return TLS_IO_ERROR;
    }
}

static tls_io openssl_handshake(void *session, char *reason)
{
    ERR_clear_error();
    errno = 0;
    int r = SSL_do_handshake(session);
    return r == 1 ? TLS_IO_DONE : map_result(session, r, reason);
}

static tls_io openssl_read(void *session, void *buf, size_t cap, size_t *got, char *reason)
{
    ERR_clear_error();
    errno = 0;
    int r = SSL_read_ex(session, buf, cap, got);
    return r == 1 ? TLS_IO_DONE : map_result(session, r, reason);
}

static tls_io openssl_write(void *session, const void *buf, size_t len, size_t *sent,
                            char *reason)
{
    ERR_clear_error();
    errno = 0;
    int r = SSL_write_ex(session, buf, len, sent);
    return r == 1 ? TLS_IO_DONE : map_result(session, r, reason);
}

static bool openssl_has_buffered(void *session)
{
    return SSL_has_pending(session) == 1;
}

static void openssl_session_free(void *session)
{
    if (!session)
        return;
    ERR_clear_error();
    if (SSL_is_init_finished((SSL *)session))
        SSL_shutdown(session); /* one non-blocking attempt at close_notify */
    ERR_clear_error();
    SSL_free(session);
}

static bool backend_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                                uint8_t mac[32])
{
    unsigned int n = 0;
    if (key_len > INT32_MAX)
        return false;
    return HMAC(EVP_sha256(), key, (int)key_len, data, len, mac, &n) != NULL && n == 32;
}

static bool backend_random_bytes(void *out, size_t len)
{
    return len <= INT32_MAX && RAND_bytes(out, (int)len) == 1;
}

const struct tls_backend tls_backend_openssl = {
    .supports = TLS_SUPPORTS_READ_AHEAD | TLS_SUPPORTS_SESSION_CACHE,
    .init = openssl_init,
    .thread_cleanup = openssl_thread_cleanup,
    .version = openssl_version,
    .context_new = openssl_context_new,
    .context_free = openssl_context_free,
    .session_new = openssl_session_new,
    .handshake = openssl_handshake,
    .read = openssl_read,
    .write = openssl_write,
    .has_buffered = openssl_has_buffered,
    .session_free = openssl_session_free,
    .hmac_sha256 = backend_hmac_sha256,
    .random_bytes = backend_random_bytes,
};
