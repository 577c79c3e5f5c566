/* The words the TLS seam and its backends share: what an I/O step came to,
 * the room for the library's reason, what a backend supports. tls.h (the
 * seam) and tls_backend.h (a backend's table) both build on them. */
#ifndef TLS_IO_H
#define TLS_IO_H

typedef enum {
    TLS_IO_DONE,
    TLS_IO_WANT_READ,
    TLS_IO_WANT_WRITE,
    TLS_IO_CLOSED, /* orderly close or EOF from the peer */
    TLS_IO_ERROR,
} tls_io;

/* Room for the library's reason when an operation fails. */
#define TLS_REASON_SIZE 160

/* What a backend can do, as curl's backends declare it (tls_backend_supports()). */
enum {
    /* Reads more than one record from the socket at a time: a request may wait
     * in the session while the socket says nothing (tls_connection_has_buffered). */
    TLS_SUPPORTS_READ_AHEAD = 1 << 0,
    /* Keeps TLS 1.2 sessions for resumption (TLS 1.3 resumes by tickets in both). */
    TLS_SUPPORTS_SESSION_CACHE = 1 << 1,
};

#endif
