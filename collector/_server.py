"""Serving the collector: in the foreground (``aiops collector``) or in a background thread.

For integration tests and the demo::

    with CollectorServer(CollectorSettings(port=0, log_path=tmp / "incidents.jsonl")) as server:
        httpx.get(server.url + "/metrics")

or as a child process: ``python -m aiops collector --host 127.0.0.1 --port PORT --log PATH``
and poll ``/healthz`` until it answers.
"""

from __future__ import annotations

import logging
import socket
import time
from typing import Callable

from plumbing.serving import AppServer, PortInUse, bind, is_loopback, serve_forever

from ._app import CollectorRuntime, create_app
from ._settings import CollectorSettings

__all__ = ["CollectorServer", "PortInUse", "bind", "is_loopback", "serve"]

log = logging.getLogger("collector")


def serve(settings: CollectorSettings, *, sock: socket.socket | None = None, app: object | None = None) -> None:
    """Run the collector in the foreground until interrupted (the ``aiops collector`` command)."""
    app = app or create_app(settings)
    sock = sock or bind(settings.host, settings.port, what="collector")
    serve_forever(app, sock)  # uvicorn with the kit's header deadline, as every service


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
        self._server = AppServer(self.app, host=self.settings.host, port=self.settings.port, name="collector")

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def url(self) -> str:
        return self._server.url

    def start(self, timeout_seconds: float = 10.0) -> "CollectorServer":
        try:
            self._server.start(timeout_seconds)
        except RuntimeError:
            self.runtime.close()
            raise
        return self

    def stop(self) -> None:
        self._server.stop()
        self.runtime.close()

    def __enter__(self) -> "CollectorServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
