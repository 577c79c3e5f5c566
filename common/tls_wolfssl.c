/* TLS backend over wolfSSL; see tls_backend.h. */
#include <wolfssl/options.h>

#include <wolfssl/error-ssl.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/rsa.h>
#include <wolfssl/wolfcrypt/hmac.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls_backend.h"

#define PEM_FILE_LIMIT (1024 * 1024)

/* TLS 1.3 suites, then TLS 1.2 forward-secret AEAD suites only. */
#define CIPHERS                                                                                    \
    "TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384:TLS13-CHACHA20-POLY1305-SHA256:"              \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                                   \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                                   \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

static bool wolfssl_init(void)
{
    return wolfSSL_Init() == WOLFSSL_SUCCESS;
}

/* The ECC fixed-point cache (FP_ECC) is per thread. */
static void wolfssl_thread_cleanup(void)
{
#ifdef FP_ECC
    wc_ecc_fp_free();
#endif
}

static const char *wolfssl_version(void)
{
    static char text[32];
    snprintf(text, sizeof(text), "wolfSSL %s", wolfSSL_lib_version());
    return text;
}

static void describe_error(const char *what, const char *path, int code, char *error,
                           size_t size)
{
    char reason[WOLFSSL_MAX_ERROR_SZ] = "unknown error";
    if (code < 0)
        wolfSSL_ERR_error_string_n((unsigned long)code, reason, sizeof(reason));
    snprintf(error, size, "%s %s: %s", what, path, reason);
}

static unsigned char *read_file(const char *path, long *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char *data = malloc(PEM_FILE_LIMIT);
    size_t n = data ? fread(data, 1, PEM_FILE_LIMIT, f) : 0;
    fclose(f);
    *len = (long)n;
    return data;
}

/* The public key of an ECC private key, as an uncompressed point. */
static bool ecc_public_point(ecc_key *key, byte *out, word32 *len)
{
    if (key->type == ECC_PRIVATEKEY_ONLY && wc_ecc_make_pub(key, NULL) != 0)
        return false;
    return wc_ecc_export_x963(key, out, len) == 0;
}

/* Whether the private key's public half is the certificate's public key.
 * wolfSSL_CTX_check_private_key() does not catch a mismatched ECC pair in
 * some builds (Debian's 5.5.4 among them), so the check is done here. */
static bool key_matches_certificate(const char *cert_path, const char *key_path)
{
    long cert_pem_len = 0, key_pem_len = 0;
    unsigned char *cert_pem = read_file(cert_path, &cert_pem_len);
    unsigned char *key_pem = read_file(key_path, &key_pem_len);
    byte *cert_der = malloc(PEM_FILE_LIMIT), *key_der = malloc(PEM_FILE_LIMIT);
    byte *spki = malloc(PEM_FILE_LIMIT);
    bool match = false, cert_parsed = false;
    DecodedCert cert;
    if (!cert_pem || !key_pem || !cert_der || !key_der || !spki)
        goto done;
    int cert_len = wc_CertPemToDer(cert_pem, (int)cert_pem_len, cert_der, PEM_FILE_LIMIT,
                                   CERT_TYPE);
    int key_len = wc_KeyPemToDer(key_pem, (int)key_pem_len, key_der, PEM_FILE_LIMIT, NULL);
    if (cert_len <= 0 || key_len <= 0)
        goto done;
    wc_InitDecodedCert(&cert, cert_der, (word32)cert_len, NULL);
    cert_parsed = true;
    word32 spki_len = PEM_FILE_LIMIT;
    if (wc_ParseCert(&cert, CERT_TYPE, NO_VERIFY, NULL) != 0 ||
        wc_GetPubKeyDerFromCert(&cert, spki, &spki_len) != 0)
        goto done;
    word32 key_at = 0;
    if (wc_GetPkcs8TraditionalOffset(key_der, &key_at, (word32)key_len) < 0)
        key_at = 0; /* not PKCS#8: a traditional SEC1 or PKCS#1 key */
    word32 spki_at = 0;
    if (cert.keyOID == ECDSAk) {
        ecc_key priv, pub;
        byte a[200], b[200];
        word32 a_len = sizeof(a), b_len = sizeof(b);
        wc_ecc_init(&priv);
        wc_ecc_init(&pub);
        match = wc_EccPrivateKeyDecode(key_der, &key_at, &priv, (word32)key_len) == 0 &&
                wc_EccPublicKeyDecode(spki, &spki_at, &pub, spki_len) == 0 &&
                ecc_public_point(&priv, a, &a_len) && wc_ecc_export_x963(&pub, b, &b_len) == 0 &&
                a_len == b_len && memcmp(a, b, a_len) == 0;
        wc_ecc_free(&priv);
        wc_ecc_free(&pub);
    } else if (cert.keyOID == RSAk) {
        RsaKey priv, pub;
        byte e1[16], e2[16], n1[1024], n2[1024];
        word32 e1_len = sizeof(e1), e2_len = sizeof(e2), n1_len = sizeof(n1), n2_len = sizeof(n2);
        wc_InitRsaKey(&priv, NULL);
        wc_InitRsaKey(&pub, NULL);
        match = wc_RsaPrivateKeyDecode(key_der, &key_at, &priv, (word32)key_len) == 0 &&
                wc_RsaPublicKeyDecode(spki, &spki_at, &pub, spki_len) == 0 &&
                wc_RsaFlattenPublicKey(&priv, e1, &e1_len, n1, &n1_len) == 0 &&
                wc_RsaFlattenPublicKey(&pub, e2, &e2_len, n2, &n2_len) == 0 &&
                e1_len == e2_len && n1_len == n2_len && memcmp(e1, e2, e1_len) == 0 &&
                memcmp(n1, n2, n1_len) == 0;
        wc_FreeRsaKey(&priv);
        wc_FreeRsaKey(&pub);
    }
done:
    if (cert_parsed)
        wc_FreeDecodedCert(&cert);
    free(cert_pem);
    free(key_pem);
    free(cert_der);
    free(key_der);
    free(spki);
    return match;
}

static void *wolfssl_context_new(const char *cert_path, const char *key_path, char *error,
                                 size_t error_size)
{
    WOLFSSL_CTX *ctx = wolfSSL_CTX_new(wolfSSLv23_server_method());
    int r;
    if (!ctx) {
        snprintf(error, error_size, "cannot create TLS context for %s", cert_path);
        return NULL;
    }
    if ((r = wolfSSL_CTX_SetMinVersion(ctx, WOLFSSL_TLSV1_2)) != WOLFSSL_SUCCESS) {
        describe_error("cannot set minimum TLS version for", cert_path, r, error, error_size);
        goto error;
    }
    if ((r = wolfSSL_CTX_set_cipher_list(ctx, CIPHERS)) != WOLFSSL_SUCCESS) {
        describe_error("cannot set ciphers for", cert_path, r, error, error_size);
        goto error;
    }
    if ((r = wolfSSL_CTX_use_certificate_chain_file(ctx, cert_path)) != WOLFSSL_SUCCESS) {
        describe_error("cannot load certificate", cert_path, r, error, error_size);
        goto error;
    }
    if ((r = wolfSSL_CTX_use_PrivateKey_file(ctx, key_path, WOLFSSL_FILETYPE_PEM)) !=
        WOLFSSL_SUCCESS) {
        describe_error("cannot load private key", key_path, r, error, error_size);
        goto error;
    }
    if ((r = wolfSSL_CTX_check_private_key(ctx)) != WOLFSSL_SUCCESS ||
        !key_matches_certificate(cert_path, key_path)) {
        snprintf(error, error_size, "private key %s does not match certificate %s", key_path,
                 cert_path);
        goto error;
    }
    return ctx;
error:
    wolfSSL_CTX_free(ctx);
    return NULL;
}

static void wolfssl_context_free(void *context)
{
    wolfSSL_CTX_free(context);
}

static void take_reason(int code, char *reason)
{
    char text[WOLFSSL_MAX_ERROR_SZ] = "unknown TLS error";
    wolfSSL_ERR_error_string_n((unsigned long)code, text, sizeof(text));
    snprintf(reason, TLS_REASON_SIZE, "%s", text);
}

static void *wolfssl_session_new(void *context, int fd, char *reason)
{
    WOLFSSL *ssl = wolfSSL_new(context);
    if (!ssl) {
        snprintf(reason, TLS_REASON_SIZE, "cannot create a TLS session: out of memory");
        return NULL;
    }
    /* The API server offers only http/1.1; agree to it, ignore anything else. */
    char alpn[] = "http/1.1";
    int r = wolfSSL_set_fd(ssl, fd);
    if (r == WOLFSSL_SUCCESS)
        r = wolfSSL_UseALPN(ssl, alpn, sizeof(alpn) - 1, WOLFSSL_ALPN_CONTINUE_ON_MISMATCH);
    if (r != WOLFSSL_SUCCESS) {
        take_reason(r, reason);
        wolfSSL_free(ssl);
        return NULL;
    }
    return ssl;
}

/* A peer that resets or simply goes away is a close, not an error, as in
 * the OpenSSL backend: wolfSSL says SOCKET_ERROR_E for any failed socket
 * call, so errno tells a reset from a real fault. */
static tls_io map_result(WOLFSSL *ssl, int ret, char *reason)
{
    int e = wolfSSL_get_error(ssl, ret);
    switch (e) {
    case WOLFSSL_ERROR_WANT_READ:
        return TLS_IO_WANT_READ;
    case WOLFSSL_ERROR_WANT_WRITE:
        return TLS_IO_WANT_WRITE;
    case WOLFSSL_ERROR_ZERO_RETURN:
    case SOCKET_PEER_CLOSED_E:
        return TLS_IO_CLOSED;
    case SOCKET_ERROR_E:
        if (errno == 0 || errno == ECONNRESET || errno == EPIPE)
            return TLS_IO_CLOSED;
        snprintf(reason, TLS_REASON_SIZE, "%s", strerror(errno));
        return TLS_IO_ERROR;
    default:
        take_reason(e, reason);
        return TLS_IO_ERROR;
    }
}

static tls_io wolfssl_handshake(void *session, char *reason)
{
    errno = 0;
    int r = wolfSSL_accept(session);
    return r == WOLFSSL_SUCCESS ? TLS_IO_DONE : map_result(session, r, reason);
}

static tls_io wolfssl_read(void *session, void *buf, size_t cap, size_t *got, char *reason)
{
    int want = cap > INT32_MAX ? INT32_MAX : (int)cap;
    errno = 0;
    int r = wolfSSL_read(session, buf, want);
    if (r > 0) {
        *got = (size_t)r;
        return TLS_IO_DONE;
    }
    *got = 0;
    return map_result(session, r, reason);
}

static tls_io wolfssl_write(void *session, const void *buf, size_t len, size_t *sent,
                            char *reason)
{
    int want = len > INT32_MAX ? INT32_MAX : (int)len;
    errno = 0;
    int r = wolfSSL_write(session, buf, want);
    if (r > 0) {
        *sent = (size_t)r;
        return TLS_IO_DONE;
    }
    *sent = 0;
    return map_result(session, r, reason);
}

static bool wolfssl_has_buffered(void *session)
{
    return wolfSSL_has_pending(session) == 1;
}

static void wolfssl_session_free(void *session)
{
    if (!session)
        return;
    if (wolfSSL_is_init_finished(session))
        wolfSSL_shutdown(session);
    wolfSSL_free(session);
}

static bool backend_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                                uint8_t mac[32])
{
    Hmac hmac;
    if (key_len > UINT32_MAX || len > UINT32_MAX || wc_HmacInit(&hmac, NULL, INVALID_DEVID) != 0)
        return false;
    bool ok = wc_HmacSetKey(&hmac, WC_SHA256, key, (word32)key_len) == 0 &&
              wc_HmacUpdate(&hmac, data, (word32)len) == 0 && wc_HmacFinal(&hmac, mac) == 0;
    wc_HmacFree(&hmac);
    return ok;
}

static bool backend_random_bytes(void *out, size_t len)
{
    WC_RNG rng;
    if (len > UINT32_MAX || wc_InitRng(&rng) != 0)
        return false;
    bool ok = wc_RNG_GenerateBlock(&rng, out, (word32)len) == 0;
    wc_FreeRng(&rng);
    return ok;
}

const struct tls_backend tls_backend_wolfssl = {
    .supports = TLS_SUPPORTS_SESSION_CACHE, /* wolfSSL's built-in server cache */
    .init = wolfssl_init,
    .thread_cleanup = wolfssl_thread_cleanup,
    .version = wolfssl_version,
    .context_new = wolfssl_context_new,
    .context_free = wolfssl_context_free,
    .session_new = wolfssl_session_new,
    .handshake = wolfssl_handshake,
    .read = wolfssl_read,
    .write = wolfssl_write,
    .has_buffered = wolfssl_has_buffered,
    .session_free = wolfssl_session_free,
    .hmac_sha256 = backend_hmac_sha256,
    .random_bytes = backend_random_bytes,
};
