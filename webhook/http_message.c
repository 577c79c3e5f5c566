/* HTTP answers: status texts, error bodies, the head on the wire; see
 * http_message.h. */
#include "http_message.h"

#include <string.h>

#include "json_writer.h"

/* Larger than any answer the webhook builds (a patch for a body at the
 * largest --max-body-bytes), so hitting it means a bug, answered with 500. */
#define RESPONSE_LIMIT (8 * 1024 * 1024)

void http_response_init(http_response *r)
{
    memset(r, 0, sizeof(*r));
    buffer_init(&r->body, RESPONSE_LIMIT);
}

void http_response_free(http_response *r)
{
    buffer_free(&r->body);
}

const char *http_status_text(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

void http_response_error(http_response *r, int status, const char *message)
{
    buffer_reset(&r->body);
    r->status = status;
    r->content_type = "application/json";
    json_writer w;
    json_writer_init(&w, &r->body);
    json_object_begin(&w);
    json_member_string(&w, "kind", "Status");
    json_member_string(&w, "apiVersion", "v1");
    json_member_string(&w, "status", "Failure");
    json_member_string(&w, "message", message);
    json_member_int(&w, "code", status);
    json_object_end(&w);
    buffer_append_char(&r->body, '\n');
}

static void append_header(buffer *out, const char *name, const char *value)
{
    buffer_append_str(out, name);
    buffer_append_str(out, ": ");
    buffer_append_str(out, value);
    buffer_append_str(out, "\r\n");
}

void http_response_write_head(const http_response *r, bool keep_alive, buffer *out)
{
    buffer_append_str(out, "HTTP/1.1 ");
    buffer_append_uint(out, (uint64_t)r->status);
    buffer_append_char(out, ' ');
    buffer_append_str(out, http_status_text(r->status));
    buffer_append_str(out, "\r\nContent-Type: ");
    buffer_append_str(out, r->content_type ? r->content_type : "text/plain");
    buffer_append_str(out, "\r\nContent-Length: ");
    buffer_append_uint(out, r->body.len);
    buffer_append_str(out, "\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n");
    if (r->allow)
        append_header(out, "Allow", r->allow);
    if (r->retry_after)
        append_header(out, "Retry-After", r->retry_after);
    buffer_append_str(out, keep_alive ? "Connection: keep-alive\r\n\r\n"
                                      : "Connection: close\r\n\r\n");
}
