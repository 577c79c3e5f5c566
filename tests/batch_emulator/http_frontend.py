# The HTTP/1.1 server: one thread per connection, keep-alive (clients such as libcurl reuse
# connections), optional TLS. It only moves bytes: each request becomes an IncomingRequest for the
# BatchService, and its Response goes back in a single write.
import socket
import ssl
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from http_messages import DROP_CONNECTION, IncomingRequest

MAX_BODY_BYTES = 64 * 1024 * 1024


class BatchHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, tls_context=None):
        super().__init__(address, RequestHandler)
        self.service = None         # a BatchService, set before serving
        self.scheme = "https" if tls_context else "http"
        if tls_context:
            # The handshake happens in the connection's thread, on its first read.
            self.socket = tls_context.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)

    @property
    def url(self):
        host, port = self.server_address[:2]
        return f"{self.scheme}://{host}:{port}"


def _reason_phrase(status):
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def tls_context(cert_path, key_path):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format, *args):       # quiet: one line per request would cost more than it tells
        pass

    def do_GET(self):
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            raise ValueError("request body too large for the emulator")
        return self.rfile.read(length)

    def _serve(self):
        try:
            body = self._read_body()
        except ValueError:
            self.send_error(HTTPStatus.BAD_REQUEST, "Bad request body")
            self.close_connection = True
            return
        path, _, query = self.path.partition("?")
        host = self.headers.get("Host") or f"{self.server.server_address[0]}:{self.server.server_address[1]}"
        request = IncomingRequest(self.command, path, query, self.headers, body, f"{self.server.scheme}://{host}")
        response = self.server.service.handle(request)
        if response is DROP_CONNECTION:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        headers = {"Server": self.server_version, "Date": self.date_time_string(time.time()), **response.headers}
        headers.setdefault("Content-Length", str(len(response.body)))
        head = f"HTTP/1.1 {response.status} {_reason_phrase(response.status)}\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
        self.wfile.write(head.encode("latin-1") + (b"" if self.command == "HEAD" else response.body))
