/* The webhook's listening sockets: --listen resolved (numeric only, no name
 * service) and one non-blocking socket per worker thread on that address
 * (SO_REUSEPORT: the kernel spreads new connections over the workers). */
#ifndef HTTP_LISTENER_H
#define HTTP_LISTENER_H

#include <stddef.h>

/* Opens count listening sockets on listen_address ("host:port",
 * "[v6]:port"; port 0 picks a free one) into fds and returns the port, or -1
 * with error set (fds then hold -1). */
int http_listeners_open(const char *listen_address, int count, int *fds, char *error,
                        size_t error_size);

#endif
