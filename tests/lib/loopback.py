"""Ports on the loopback interface for the servers the tests start."""
import socket


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (for a server that cannot pick its own,
    or for a client that must be refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
