"""Serving an ASGI app on a port: one clear error for a taken port, foreground or background thread."""

from __future__ import annotations

import errno
import ipaddress
import socket
import threading
import time
from typing import Any

import uvicorn
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from plumbing.errors import short

__all__ = ["AppServer", "PortInUse", "bind", "is_loopback", "json_errors", "local_host", "port_free", "serve_forever", "url_for"]


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


def _server(app: object) -> uvicorn.Server:
    return uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))  # type: ignore[arg-type]


def serve_forever(app: object, sock: socket.socket) -> None:
    """Serve ``app`` on an already bound socket until interrupted."""
    _server(app).run(sockets=[sock])


class AppServer:
    """``app`` served by uvicorn in a background thread; ``port=0`` picks a free port."""

    def __init__(self, app: object, *, host: str = "127.0.0.1", port: int = 0, name: str = "app") -> None:
        self.app, self.host, self.port, self.name = app, host, port, name
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return url_for(self.host, self.port)

    def start(self, timeout_seconds: float = 10.0) -> "AppServer":
        sock = bind(self.host, self.port, what=self.name)
        self.port = sock.getsockname()[1]
        self._server = _server(self.app)
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
