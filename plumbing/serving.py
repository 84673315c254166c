"""Serving an ASGI app on a port: one clear error for a taken port, foreground or background thread.

Every service of the kit is served here, by uvicorn's h11 protocol with a **header deadline**
(:class:`HeaderDeadlineProtocol`): a connection whose request line and headers have not all
arrived within :data:`HEADER_TIMEOUT_SECONDS` of its first byte (or of its opening) is closed.
uvicorn bounds neither (its keep-alive timeout only runs between requests, and any byte stops
it), so a client sending half a request line would hold a connection for ever; the body that
follows is bounded by :class:`plumbing.guard.RequestGuard` (10 s).
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import socket
import threading
import time
from typing import Any

import h11
import uvicorn
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from uvicorn.protocols.http.h11_impl import H11Protocol

from plumbing.errors import short

__all__ = ["HEADER_TIMEOUT_SECONDS", "AppServer", "HeaderDeadlineProtocol", "PortInUse", "bind", "is_loopback", "json_errors", "local_host", "port_free", "serve_forever", "url_for"]


def _problem(status: int, field: str, error: str) -> JSONResponse:
    problem = {"field": field, "error": error}
    return JSONResponse({**problem, "errors": [problem]}, status_code=status)


def json_errors(app: Any) -> None:
    """Answer a FastAPI app's own errors (unknown path, wrong method, bad query or body) as JSON naming the field.

    The shape is the kit's everywhere: ``{"field": ..., "error": ..., "errors": [...]}``; a bad
    value is quoted by a short prefix only.
    """
    @app.exception_handler(HTTPException)
    async def http_error(request: Any, exc: HTTPException) -> Any:
        path = short(request.url.path)
        if exc.status_code == 404:
            return _problem(404, "path", f"no endpoint {path} (see /docs)")
        if exc.status_code == 405:
            return _problem(405, "method", f"{request.method} is not allowed on {path}")
        if exc.status_code == 400:
            return _problem(
                400, "body", "the body could not be parsed as JSON: it must be UTF-8, nest at most a few hundred levels "
                "and hold numbers of at most 4,300 digits",
            )
        return _problem(exc.status_code, "request", short(str(exc.detail), 200))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Any, exc: RequestValidationError) -> Any:
        err = exc.errors()[0] if exc.errors() else {}
        loc = [str(p) for p in err.get("loc", ())]
        field = loc[-1] if len(loc) > 1 else "body"
        return _problem(422, field, f"{err.get('msg', 'is invalid')} (got {short(err.get('input'))})")


class PortInUse(OSError):
    """The port is taken (or the address cannot be bound)."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def local_host(host: str) -> str:
    """How this machine reaches a server listening on ``host`` (a wildcard address means loopback)."""
    if host in ("0.0.0.0", "", "localhost"):
        return "127.0.0.1"
    return "::1" if host == "::" else host


def url_for(host: str, port: int) -> str:
    """``http://host:port``, with an IPv6 host in brackets."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def port_free(host: str, port: int) -> bool:
    """Whether ``port`` on ``host`` can be bound right now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def bind(host: str, port: int, *, what: str = "the service") -> socket.socket:
    """A listening socket on (host, port); port 0 picks a free one. Raises :class:`PortInUse`."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(exc.errno, f"port {port} on {host} is already in use (another {what}?); pick another with --port") from None
        raise PortInUse(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


#: A request's line and headers must have arrived this long after the connection opened or its first byte came (the body's own limit is the guard's 10 s).
HEADER_TIMEOUT_SECONDS = 10.0


class HeaderDeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request headers are not complete within :attr:`header_timeout_seconds`.

    The deadline is armed when the connection opens and, on a kept-alive connection, when the
    next request's first byte arrives; it is disarmed once the headers are parsed. A subclass
    sets another deadline (:func:`header_deadline_protocol`).
    """

    header_timeout_seconds: float = HEADER_TIMEOUT_SECONDS

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._header_deadline: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        self._arm_header_deadline()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is h11.IDLE:  # still waiting for (the rest of) a request line and headers
            self._arm_header_deadline()
        else:
            self._disarm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def _arm_header_deadline(self) -> None:
        if self._header_deadline is None:
            self._header_deadline = self.loop.call_later(self.header_timeout_seconds, self._headers_too_slow)

    def _disarm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


def header_deadline_protocol(header_timeout_seconds: float) -> type[HeaderDeadlineProtocol]:
    """:class:`HeaderDeadlineProtocol` with another deadline (tests use a short one)."""
    return type("HeaderDeadlineProtocol", (HeaderDeadlineProtocol,), {"header_timeout_seconds": header_timeout_seconds})


def _server(app: object, header_timeout_seconds: float = HEADER_TIMEOUT_SECONDS) -> uvicorn.Server:
    protocol = HeaderDeadlineProtocol if header_timeout_seconds == HEADER_TIMEOUT_SECONDS else header_deadline_protocol(header_timeout_seconds)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", http=protocol)  # type: ignore[arg-type]
    return uvicorn.Server(config)


def serve_forever(app: object, sock: socket.socket) -> None:
    """Serve ``app`` on an already bound socket until interrupted (with the header deadline)."""
    _server(app).run(sockets=[sock])


class AppServer:
    """``app`` served by uvicorn in a background thread; ``port=0`` picks a free port."""

    def __init__(
        self, app: object, *, host: str = "127.0.0.1", port: int = 0, name: str = "app", header_timeout_seconds: float = HEADER_TIMEOUT_SECONDS
    ) -> None:
        self.app, self.host, self.port, self.name = app, host, port, name
        self.header_timeout_seconds = header_timeout_seconds
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return url_for(self.host, self.port)

    def start(self, timeout_seconds: float = 10.0) -> "AppServer":
        sock = bind(self.host, self.port, what=self.name)
        self.port = sock.getsockname()[1]
        self._server = _server(self.app, self.header_timeout_seconds)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, name=self.name, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_seconds
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> "AppServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
