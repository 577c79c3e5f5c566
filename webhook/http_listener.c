/* Listening sockets; see http_listener.h. */
#include "http_listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LISTEN_BACKLOG 1024

static struct addrinfo *resolve(const char *listen_address, char *error, size_t error_size)
{
    char host[256];
    const char *colon = strrchr(listen_address, ':');
    if (!colon || colon == listen_address || (size_t)(colon - listen_address) >= sizeof(host)) {
        snprintf(error, error_size, "--listen %s: expected HOST:PORT", listen_address);
        return NULL;
    }
    size_t host_len = (size_t)(colon - listen_address);
    memcpy(host, listen_address, host_len);
    host[host_len] = '\0';
    if (host[0] == '[' && host[host_len - 1] == ']') { /* [v6]:port */
        memmove(host, host + 1, host_len - 2);
        host[host_len - 2] = '\0';
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(host, colon + 1, &hints, &ai);
    if (rc != 0) {
        snprintf(error, error_size, "--listen %s: %s", listen_address, gai_strerror(rc));
        return NULL;
    }
    return ai;
}

static int port_of(const struct sockaddr_storage *addr)
{
    return ntohs(addr->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)addr)->sin6_port
                                             : ((const struct sockaddr_in *)addr)->sin_port);
}

static void set_port(struct sockaddr *addr, int port)
{
    if (addr->sa_family == AF_INET6)
        ((struct sockaddr_in6 *)addr)->sin6_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in *)addr)->sin_port = htons((uint16_t)port);
}

/* A socket bound to addr; listening when `listening`. -1 with errno set. */
static int bound_socket(const struct addrinfo *ai, bool reuse_port, bool listening)
{
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
        (listening && listen(fd, LISTEN_BACKLOG) != 0)) {
        int saved = errno;
        if (fd >= 0)
            close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

/* A first bind without SO_REUSEPORT proves nobody else listens there (a
 * second webhook would otherwise quietly share the port) and picks the port
 * for ":0"; then every worker's socket binds that port. */
int http_listeners_open(const char *listen_address, int count, int *fds, char *error,
                        size_t error_size)
{
    for (int i = 0; i < count; i++)
        fds[i] = -1;
    struct addrinfo *ai = resolve(listen_address, error, error_size);
    if (!ai)
        return -1;
    int port = -1;
    int probe = bound_socket(ai, false, false);
    bool ok = probe >= 0;
    if (ok) {
        struct sockaddr_storage bound;
        socklen_t len = sizeof(bound);
        getsockname(probe, (struct sockaddr *)&bound, &len);
        port = port_of(&bound);
        close(probe);
        set_port(ai->ai_addr, port);
    }
    for (int i = 0; ok && i < count; i++)
        ok = (fds[i] = bound_socket(ai, true, true)) >= 0;
    if (!ok) {
        snprintf(error, error_size, "--listen %s: %s", listen_address, strerror(errno));
        for (int i = 0; i < count; i++) {
            if (fds[i] >= 0)
                close(fds[i]);
            fds[i] = -1;
        }
        port = -1;
    }
    freeaddrinfo(ai);
    return port;
}
