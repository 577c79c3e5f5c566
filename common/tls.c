/* The backend-independent half of the TLS seam: picks the backend, counts
 * references to server contexts, and reloads the certificate pair safely.
 *
 * Reload follows redis: build a complete new context from the new files
 * first; swap it in only if every step succeeded. A connection holds a
 * reference to the context it was accepted with, so a swap never disturbs a
 * live connection; the old context is freed when its last connection ends. */
#include "tls.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tls_backend.h"

#if defined(USE_WOLFSSL)
static const struct tls_backend *const backend = &tls_backend_wolfssl;
#else
static const struct tls_backend *const backend = &tls_backend_openssl;
#endif

bool tls_global_init(void) { return backend->init(); }
void tls_thread_cleanup(void) { backend->thread_cleanup(); }
const char *tls_backend_version(void) { return backend->version(); }
unsigned tls_backend_supports(void) { return backend->supports; }

bool crypto_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                        uint8_t mac[32])
{
    return backend->hmac_sha256(key, key_len, data, len, mac);
}

bool crypto_random_bytes(void *out, size_t len)
{
    return backend->random_bytes(out, len);
}

/* A backend context shared by the server and the connections using it. */
typedef struct shared_context {
    void *backend_context;
    atomic_int references;
} shared_context;

static void context_release(shared_context *c)
{
    if (c && atomic_fetch_sub(&c->references, 1) == 1) {
        backend->context_free(c->backend_context);
        free(c);
    }
}

/* Identity of a file as seen through symlinks: any replacement changes it. */
typedef struct file_identity {
    dev_t device;
    ino_t inode;
    off_t size;
    struct timespec modified;
    bool exists;
} file_identity;

static file_identity identify(const char *path)
{
    file_identity id = {0};
    struct stat st;
    if (stat(path, &st) == 0) {
        id.device = st.st_dev;
        id.inode = st.st_ino;
        id.size = st.st_size;
        id.modified = st.st_mtim;
        id.exists = true;
    }
    return id;
}

static bool same_identity(const file_identity *a, const file_identity *b)
{
    return a->exists == b->exists && a->device == b->device && a->inode == b->inode &&
           a->size == b->size && a->modified.tv_sec == b->modified.tv_sec &&
           a->modified.tv_nsec == b->modified.tv_nsec;
}

struct tls_server {
    char *cert_path;
    char *key_path;
    pthread_mutex_t lock; /* guards current and the identities */
    shared_context *current;
    /* The files as they were at the last load attempt, successful or not, so
     * a broken pair is reported once rather than on every check. */
    file_identity cert_seen;
    file_identity key_seen;
};

static shared_context *load_context(const char *cert, const char *key, char *error,
                                    size_t error_size)
{
    void *backend_context = backend->context_new(cert, key, error, error_size);
    if (!backend_context)
        return NULL;
    shared_context *c = malloc(sizeof(*c));
    if (!c) {
        backend->context_free(backend_context);
        snprintf(error, error_size, "out of memory");
        return NULL;
    }
    c->backend_context = backend_context;
    atomic_init(&c->references, 1);
    return c;
}

tls_server *tls_server_open(const char *cert_path, const char *key_path, char *error,
                            size_t error_size)
{
    tls_server *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(error, error_size, "out of memory");
        return NULL;
    }
    s->cert_path = strdup(cert_path);
    s->key_path = strdup(key_path);
    pthread_mutex_init(&s->lock, NULL);
    s->cert_seen = identify(cert_path);
    s->key_seen = identify(key_path);
    if (!s->cert_path || !s->key_path)
        snprintf(error, error_size, "out of memory");
    else
        s->current = load_context(cert_path, key_path, error, error_size);
    if (!s->current) {
        tls_server_close(s);
        return NULL;
    }
    return s;
}

void tls_server_close(tls_server *s)
{
    if (!s)
        return;
    context_release(s->current);
    pthread_mutex_destroy(&s->lock);
    free(s->cert_path);
    free(s->key_path);
    free(s);
}

tls_reload_result tls_server_reload_if_changed(tls_server *s, char *error, size_t error_size)
{
    file_identity cert = identify(s->cert_path);
    file_identity key = identify(s->key_path);
    pthread_mutex_lock(&s->lock);
    bool changed = !same_identity(&cert, &s->cert_seen) || !same_identity(&key, &s->key_seen);
    s->cert_seen = cert;
    s->key_seen = key;
    pthread_mutex_unlock(&s->lock);
    if (!changed)
        return TLS_RELOAD_UNCHANGED;

    /* Built outside the lock: accepting goes on with the old pair meanwhile. */
    shared_context *fresh = load_context(s->cert_path, s->key_path, error, error_size);
    if (!fresh)
        return TLS_RELOAD_FAILED;
    pthread_mutex_lock(&s->lock);
    shared_context *old = s->current;
    s->current = fresh;
    pthread_mutex_unlock(&s->lock);
    context_release(old);
    return TLS_RELOAD_DONE;
}

struct tls_connection {
    shared_context *context;
    void *session;
    char error[TLS_REASON_SIZE];
};

tls_connection *tls_connection_accept(tls_server *s, int fd, char *reason)
{
    tls_connection *c = malloc(sizeof(*c));
    if (!c) {
        snprintf(reason, TLS_REASON_SIZE, "out of memory");
        return NULL;
    }
    c->error[0] = '\0';
    pthread_mutex_lock(&s->lock);
    c->context = s->current;
    atomic_fetch_add(&c->context->references, 1);
    pthread_mutex_unlock(&s->lock);
    c->session = backend->session_new(c->context->backend_context, fd, reason);
    if (!c->session) {
        context_release(c->context);
        free(c);
        return NULL;
    }
    return c;
}

tls_io tls_connection_handshake(tls_connection *c)
{
    return backend->handshake(c->session, c->error);
}

tls_io tls_connection_read(tls_connection *c, void *buf, size_t cap, size_t *got)
{
    return backend->read(c->session, buf, cap, got, c->error);
}

tls_io tls_connection_write(tls_connection *c, const void *buf, size_t len, size_t *sent)
{
    return backend->write(c->session, buf, len, sent, c->error);
}

const char *tls_connection_error(const tls_connection *c) { return c->error; }

bool tls_connection_has_buffered(tls_connection *c) { return backend->has_buffered(c->session); }

void tls_connection_free(tls_connection *c)
{
    if (!c)
        return;
    backend->session_free(c->session);
    context_release(c->context);
    free(c);
}
