"""Grafana, as every part of the kit sees it: one settings class and a tiny annotation client.

- :class:`GrafanaSettings` (``AIOPS_GRAFANA_*``): where Grafana is and how to sign in
  (a service-account token, or a user and password). Credentials come from the
  environment only, never from a command-line option (they would show in ``ps`` and in
  the shell's history). ``aiops dashboards push`` uses them, and so do the collector and
  the detector, which post annotations when a URL is set.
- :class:`AnnotationPoster`: posts annotations (``POST /api/annotations``) from a
  background thread through a small bounded queue, so the caller never waits on Grafana:
  a Grafana that is slow, down or refusing costs a warning in the log (once per outage),
  never a detection or an incident. ``opened(key, ...)`` posts a point annotation;
  ``closed(key, ...)`` turns it into a region (``PATCH /api/annotations/{id}`` with
  ``timeEnd``), or posts the region whole if the opening post did not get through.

It imports nothing of the kit but :mod:`plumbing.settings`, so the collector and the
detector (and anything else) can use it.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass, field
from typing import Any, Sequence

import httpx

from plumbing.settings import EnvSettings

__all__ = ["ANNOTATION_TAG", "AnnotationPoster", "GrafanaSettings", "annotation_poster"]

#: Every annotation the kit posts carries this tag; the dashboards show the annotations with it.
ANNOTATION_TAG = "aiops"

log = logging.getLogger("plumbing.grafana")


@dataclass(frozen=True, kw_only=True)
class GrafanaSettings(EnvSettings):
    """Where Grafana is and how to sign in; credentials from the environment only."""

    ENV_PREFIX = "AIOPS_GRAFANA_"

    #: Grafana's URL (`http://127.0.0.1:3000`): where `aiops dashboards push` goes (`--grafana-url`), and where the collector and the detector post annotations; unset: no annotations.
    url: str | None = None
    #: A Grafana service-account token (sent as a Bearer token); takes precedence over user and password.
    token: str | None = field(default=None, repr=False)
    #: Grafana user for basic authentication (with `AIOPS_GRAFANA_PASSWORD`), when there is no token.
    user: str | None = None
    #: Password of `AIOPS_GRAFANA_USER`.
    password: str | None = field(default=None, repr=False)
    #: Timeout of every request to Grafana (annotations are posted in the background; a slow Grafana delays nothing else).
    timeout_seconds: float = 5.0
    #: Post annotations when a URL is set (incidents triggered and ended by the collector, detected incidents opened and closed by the detector); `false` to push dashboards only.
    annotations: bool = True

    def __post_init__(self) -> None:
        if self.timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be > 0")
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise ValueError(f"AIOPS_GRAFANA_URL={self.url!r}: not an http:// or https:// URL")
        if (self.user is None) != (self.password is None) and self.token is None:
            raise ValueError("AIOPS_GRAFANA_USER and AIOPS_GRAFANA_PASSWORD go together (or set AIOPS_GRAFANA_TOKEN)")

    @property
    def credential(self) -> str | tuple[str, str] | None:
        """The token, else ``(user, password)``, else None (Grafana with anonymous access)."""
        if self.token:
            return self.token
        if self.user is not None and self.password is not None:
            return (self.user, self.password)
        return None


@dataclass
class _Event:
    kind: str  # open | close
    key: str
    body: dict[str, Any]


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000.0))


class AnnotationPoster:
    """Posts annotations to Grafana from a background thread; never blocks and never raises.

    ``opened``/``closed`` only put an event on a bounded queue (``queue_size``); a full
    queue drops the event (counted in :attr:`dropped`). The thread starts with the first
    event. ``transport`` lets tests inject an httpx transport.
    """

    def __init__(
        self,
        url: str,
        *,
        credential: str | tuple[str, str] | None = None,
        timeout_seconds: float = 5.0,
        queue_size: int = 256,
        transport: httpx.BaseTransport | None = None,
        name: str = "aiops",
    ) -> None:
        self.url = url.rstrip("/")
        self.name = name
        headers = {"Authorization": f"Bearer {credential}"} if isinstance(credential, str) else {}
        auth = httpx.BasicAuth(*credential) if isinstance(credential, tuple) else None
        self._http = httpx.Client(base_url=self.url, timeout=timeout_seconds, headers=headers, auth=auth, transport=transport)
        self._queue: queue.Queue[_Event | None] = queue.Queue(maxsize=queue_size)
        self._ids: dict[str, int] = {}
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._failing = False
        self.posted = 0
        self.failed = 0
        self.dropped = 0

    # -- the caller's side: never blocks ---------------------------------------------

    def opened(self, key: str, *, time_seconds: float, text: str, tags: Sequence[str]) -> None:
        """Annotate the start of something (``key`` names it for :meth:`closed`)."""
        self._put(_Event("open", key, {"time": _ms(time_seconds), "text": text, "tags": self._tags(tags)}))

    def closed(self, key: str, *, start_seconds: float, end_seconds: float, text: str, tags: Sequence[str]) -> None:
        """Annotate its end: the annotation becomes a region from ``start_seconds`` to ``end_seconds``."""
        body = {"time": _ms(start_seconds), "timeEnd": _ms(max(start_seconds, end_seconds)), "text": text, "tags": self._tags(tags)}
        self._put(_Event("close", key, body))

    def _tags(self, tags: Sequence[str]) -> list[str]:
        return [ANNOTATION_TAG] + [t for t in dict.fromkeys(tags) if t and t != ANNOTATION_TAG]

    def _put(self, event: _Event) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"{self.name}-grafana-annotations", daemon=True)
                self._thread.start()
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 100 == 0:
                log.warning("grafana annotations: queue full (Grafana at %s too slow?); %d annotation(s) dropped", self.url, self.dropped)

    def flush(self, timeout_seconds: float = 5.0) -> bool:
        """Wait until every queued event was sent (or failed); False if time ran out (tests, shutdown)."""
        done = threading.Event()

        def wait() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=wait, daemon=True).start()
        return done.wait(timeout_seconds)

    def close(self, timeout_seconds: float = 2.0) -> None:
        """Send what is queued (for at most ``timeout_seconds``), then stop the thread."""
        if self._thread is not None:
            self.flush(timeout_seconds)
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                pass
            self._thread.join(timeout=timeout_seconds)
            self._thread = None
        self._http.close()

    # -- the thread ----------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            event = self._queue.get()
            try:
                if event is None:
                    return
                self._send(event)
            finally:
                self._queue.task_done()

    def _send(self, event: _Event) -> None:
        try:
            if event.kind == "open":
                reply = self._http.post("/api/annotations", json=event.body)
                reply.raise_for_status()
                ident = reply.json().get("id")
                if isinstance(ident, int):
                    self._ids[event.key] = ident
            else:
                ident = self._ids.pop(event.key, None)
                if ident is not None:
                    self._http.patch(f"/api/annotations/{ident}", json=event.body).raise_for_status()
                else:
                    self._http.post("/api/annotations", json=event.body).raise_for_status()
        except (httpx.HTTPError, ValueError) as exc:
            self.failed += 1
            if not self._failing:
                self._failing = True
                log.warning(
                    "grafana annotations: %s did not take the annotation (%s); carrying on without it "
                    "(further failures are counted, not logged, until it answers again)",
                    self.url,
                    _short(exc),
                )
            return
        self.posted += 1
        if self._failing:
            self._failing = False
            log.info("grafana annotations: %s answers again (%d annotation(s) lost meanwhile)", self.url, self.failed)


def _short(exc: Exception) -> str:
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code} from {exc.request.url.path}"
    return f"{type(exc).__name__}: {exc}"


def annotation_poster(settings: GrafanaSettings, *, name: str = "aiops", transport: httpx.BaseTransport | None = None) -> AnnotationPoster | None:
    """An :class:`AnnotationPoster` for ``settings``, or None when no URL is set or annotations are off."""
    if not settings.url or not settings.annotations:
        return None
    return AnnotationPoster(settings.url, credential=settings.credential, timeout_seconds=settings.timeout_seconds, name=name, transport=transport)
