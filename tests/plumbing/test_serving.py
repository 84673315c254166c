"""Serving: the header deadline every service's server has (uvicorn alone bounds neither a slow request line nor slow headers)."""

from __future__ import annotations

import socket
from typing import Any

import httpx

from plumbing.serving import HEADER_TIMEOUT_SECONDS, AppServer, HeaderDeadlineProtocol, _server

DEADLINE_SECONDS = 0.5
#: How long a test waits for the server to close a connection before calling it hung (a bound on the wait, not a timed assertion).
WAIT_SECONDS = 10.0


async def _hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain"), (b"content-length", b"5")]})
    await send({"type": "http.response.body", "body": b"hello"})


def _connect(server: AppServer) -> socket.socket:
    sock = socket.create_connection((server.host, server.port), timeout=WAIT_SECONDS)
    return sock


def _closed_by_server(sock: socket.socket) -> bool:
    """Whether the server closes the connection (reads until EOF; a socket timeout means it held it open)."""
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                return True
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True


def test_every_service_server_uses_the_header_deadline() -> None:
    config = _server(_hello).config
    config.load()
    assert issubclass(config.http_protocol_class, HeaderDeadlineProtocol)
    assert config.http_protocol_class.header_timeout_seconds == HEADER_TIMEOUT_SECONDS


def test_half_a_request_line_is_disconnected_at_the_deadline() -> None:
    with AppServer(_hello, header_timeout_seconds=DEADLINE_SECONDS) as server:
        sock = _connect(server)
        with sock:
            sock.sendall(b"GET /metr")
            assert _closed_by_server(sock)


def test_headers_that_never_end_are_disconnected() -> None:
    with AppServer(_hello, header_timeout_seconds=DEADLINE_SECONDS) as server:
        with _connect(server) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a")
            assert _closed_by_server(sock)


def test_a_silent_connection_is_disconnected() -> None:
    with AppServer(_hello, header_timeout_seconds=DEADLINE_SECONDS) as server:
        with _connect(server) as sock:
            assert _closed_by_server(sock)


def test_a_kept_alive_connection_gets_the_deadline_again_for_its_next_request() -> None:
    with AppServer(_hello, header_timeout_seconds=DEADLINE_SECONDS) as server:
        with _connect(server) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            first = b""
            while not first.endswith(b"hello"):
                first += sock.recv(4096)
            assert first.startswith(b"HTTP/1.1 200")
            sock.sendall(b"GET /ag")  # the next request, stalled halfway (uvicorn's keep-alive timer stops at its first byte)
            assert _closed_by_server(sock)


def test_whole_requests_are_served_across_the_deadline() -> None:
    with AppServer(_hello, header_timeout_seconds=DEADLINE_SECONDS) as server:
        with httpx.Client(base_url=server.url) as http:
            for _ in range(3):
                response = http.get("/")
                assert (response.status_code, response.text) == (200, "hello")
