"""Serving the collector: in the foreground (``aiops collector``) or in a background thread.

For integration tests and the demo::

    with CollectorServer(CollectorSettings(port=0, log_path=tmp / "incidents.jsonl")) as server:
        httpx.get(server.url + "/metrics")

or as a child process: ``python -m aiops collector --host 127.0.0.1 --port PORT --log PATH``
and poll ``/healthz`` until it answers.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import socket
import threading
import time
from typing import Callable

import uvicorn

from ._app import CollectorRuntime, create_app
from ._settings import CollectorSettings

__all__ = ["CollectorServer", "PortInUse", "bind", "is_loopback", "serve"]

log = logging.getLogger("collector")


class PortInUse(OSError):
    """The collector's port is taken (or the address cannot be bound)."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
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
            raise PortInUse(exc.errno, f"port {port} on {host} is already in use (another collector?); pick another with --port") from None
        raise PortInUse(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


def _config(app: object, settings: CollectorSettings) -> uvicorn.Config:
    return uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        lifespan="on",
    )


def serve(settings: CollectorSettings, *, sock: socket.socket | None = None, app: object | None = None) -> None:
    """Run the collector in the foreground until interrupted (the ``aiops collector`` command)."""
    app = app or create_app(settings)
    sock = sock or bind(settings.host, settings.port)
    server = uvicorn.Server(_config(app, settings))
    server.run(sockets=[sock])


class CollectorServer:
    """A collector served by uvicorn in a background thread, on loopback by default.

    ``port=0`` picks a free port; :attr:`url` tells which. Use as a context
    manager (or ``start()`` / ``stop()``). ``clock`` can be injected, and
    ``scheduler=False`` leaves out the tick and chaos jobs.
    """

    def __init__(
        self,
        settings: CollectorSettings | None = None,
        *,
        clock: Callable[[], float] = time.time,
        scheduler: bool = True,
    ) -> None:
        self.settings = settings or CollectorSettings(port=0)
        self.runtime = CollectorRuntime(self.settings, clock=clock)
        self.app = create_app(runtime=self.runtime, scheduler=scheduler)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = self.settings.port

    @property
    def url(self) -> str:
        host = f"[{self.settings.host}]" if ":" in self.settings.host else self.settings.host
        return f"http://{host}:{self.port}"

    def start(self, timeout_seconds: float = 10.0) -> "CollectorServer":
        sock = bind(self.settings.host, self.settings.port)
        self.port = sock.getsockname()[1]
        self._server = uvicorn.Server(_config(self.app, self.settings))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, name="collector", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_seconds
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the collector did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None
        self.runtime.close()

    def __enter__(self) -> "CollectorServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
