"""``aiops dashboards push``: the folder, the Prometheus datasource and every dashboard into a running Grafana.

Through ``grafana-client`` (Grafana's HTTP API). Idempotent: each object is read first and
written only when it differs, so a second push changes nothing and says so.

1. ``GET /api/health``: is it Grafana, and new enough (:data:`MIN_GRAFANA`; the dashboards
   are built with the SDK for Grafana 11.6, schema 41)?
2. the folder :data:`~dashboards._definitions.FOLDER_UID` (``GET``/``POST``/``PUT /api/folders``);
   the first authenticated call, so bad credentials are reported here;
3. the datasource by its fixed uid (``GET``/``POST``/``PUT /api/datasources/uid/...``), its URL
   the Prometheus given, ``timeInterval`` the scrape interval;
4. every dashboard by uid (``GET /api/dashboards/uid/...``, ``POST /api/dashboards/db``),
   compared without Grafana's own ``id`` and ``version``.

Errors::

    Exception
     └── PushError          one line: Grafana unreachable, not Grafana, too old, refused the
                            credentials or the request (its status and message)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import niquests
from grafana_client import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException, GrafanaTimeoutError

from plumbing.durations import format_duration
from plumbing.monitoring import scrape_interval_seconds

from ._definitions import DATASOURCE_NAME, DATASOURCE_UID, FOLDER_TITLE, FOLDER_UID

__all__ = ["MIN_GRAFANA", "PushError", "PushReport", "datasource_body", "push"]

#: The oldest Grafana the dashboards are pushed to (they are generated for 11.6, dashboard schema 41).
MIN_GRAFANA = (11, 0, 0)

_CREDENTIALS_HINT = "set AIOPS_GRAFANA_TOKEN (a service-account token), or AIOPS_GRAFANA_USER and AIOPS_GRAFANA_PASSWORD"


class PushError(Exception):
    """The push could not go on; the message is one line saying why."""


@dataclass
class PushReport:
    """What a push did: one line per object, and whether anything changed."""

    grafana_version: str = ""
    lines: list[str] = field(default_factory=list)
    changed: int = 0

    def note(self, what: str, *, changed: bool) -> None:
        self.lines.append(what)
        self.changed += int(changed)


def _version(text: str) -> tuple[int, ...]:
    core = text.split("-")[0].split("+")[0]
    parts = []
    for p in core.split("."):
        digits = "".join(ch for ch in p if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def datasource_body(prometheus_url: str, *, scrape_interval: float | None = None) -> dict[str, Any]:
    """The datasource as the API takes it (the provisioning file's twin)."""
    interval = format_duration(scrape_interval if scrape_interval is not None else scrape_interval_seconds())
    return {
        "uid": DATASOURCE_UID,
        "name": DATASOURCE_NAME,
        "type": "prometheus",
        "access": "proxy",
        "url": prometheus_url,
        "isDefault": True,
        # habit 12: Grafana's smallest step is the scrape interval (monitoring/prometheus.yml)
        "jsonData": {"timeInterval": interval, "httpMethod": "POST"},
    }


def _comparable(dashboard: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in dashboard.items() if k not in ("id", "version")}


class _Grafana:
    """grafana-client calls with Grafana's failures turned into one-line :class:`PushError` s."""

    def __init__(self, api: GrafanaApi, url: str) -> None:
        self.api, self.url = api, url

    def call(self, what: str, fn: Callable[[], Any], *, missing_ok: bool = False) -> Any:
        try:
            return fn()
        except GrafanaClientError as exc:
            if missing_ok and exc.status_code == 404:
                return None
            message = _message(exc)
            if exc.status_code == 401:
                raise PushError(f"Grafana at {self.url} refused the credentials ({what}: HTTP 401 {message}); {_CREDENTIALS_HINT}") from None
            if exc.status_code == 403:
                raise PushError(
                    f"Grafana at {self.url} does not let these credentials {what} (HTTP 403 {message}); "
                    "the push needs an Editor (folder, dashboards) and an Admin (datasource) role"
                ) from None
            raise PushError(f"Grafana at {self.url} refused to {what}: HTTP {exc.status_code} {message}") from None
        except GrafanaTimeoutError:
            raise PushError(f"Grafana at {self.url} did not answer in time ({what})") from None
        except GrafanaException as exc:
            raise PushError(f"Grafana at {self.url} failed to {what}: {_message(exc)}") from None
        except niquests.exceptions.RequestException as exc:
            raise PushError(f"cannot reach Grafana at {self.url} ({type(exc).__name__}: {_first_line(str(exc))}); is the URL right?") from None
        except ValueError as exc:  # a body that is not JSON: not Grafana's API
            raise PushError(f"{self.url} did not answer like Grafana ({what}: {_first_line(str(exc))}); is the URL right?") from None


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0][:200]


def _message(exc: GrafanaException) -> str:
    body = exc.response
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return _first_line(str(body if body is not None else exc.message))


def push(
    grafana_url: str,
    *,
    credential: str | tuple[str, str] | None,
    prometheus_url: str,
    dashboards: Mapping[str, Mapping[str, Any]],
    timeout_seconds: float = 5.0,
    scrape_interval: float | None = None,
) -> PushReport:
    """Create or update the folder, the datasource and ``dashboards`` (``{uid: json}``) in Grafana; raises :class:`PushError`."""
    url = grafana_url.rstrip("/")
    g = _Grafana(GrafanaApi.from_url(url, credential=credential, timeout=timeout_seconds), url)
    report = PushReport()

    health = g.call("answer GET /api/health", lambda: g.api.client.GET("/health"))
    if not isinstance(health, dict) or "version" not in health:
        raise PushError(f"{url} did not answer like Grafana (GET /api/health has no version); is the URL right?")
    report.grafana_version = str(health["version"])
    if _version(report.grafana_version) < MIN_GRAFANA:
        need = ".".join(map(str, MIN_GRAFANA))
        raise PushError(
            f"Grafana {report.grafana_version} at {url} is too old: the dashboards are built for Grafana 11.6 "
            f"(dashboard schema 41); upgrade to {need} or newer"
        )

    # the folder (the first call that needs the credentials)
    folder = g.call("read the folder", lambda: g.api.folder.get_folder(FOLDER_UID), missing_ok=True)
    if folder is None:
        g.call("create the folder", lambda: g.api.folder.create_folder(FOLDER_TITLE, uid=FOLDER_UID))
        report.note(f"folder {FOLDER_TITLE!r} ({FOLDER_UID}): created", changed=True)
    elif folder.get("title") != FOLDER_TITLE:
        g.call("rename the folder", lambda: g.api.folder.update_folder(FOLDER_UID, title=FOLDER_TITLE, overwrite=True))
        report.note(f"folder {FOLDER_TITLE!r} ({FOLDER_UID}): renamed from {folder.get('title')!r}", changed=True)
    else:
        report.note(f"folder {FOLDER_TITLE!r} ({FOLDER_UID}): unchanged", changed=False)

    # the datasource, by its fixed uid
    want = datasource_body(prometheus_url, scrape_interval=scrape_interval)
    have = g.call("read the datasource", lambda: g.api.datasource.get_datasource_by_uid(DATASOURCE_UID), missing_ok=True)
    if have is None:
        g.call("create the datasource", lambda: g.api.datasource.create_datasource(want))
        report.note(f"datasource {DATASOURCE_NAME!r} ({DATASOURCE_UID}) -> {prometheus_url}: created", changed=True)
    else:
        differs = [k for k in ("name", "type", "access", "url", "isDefault") if have.get(k) != want[k]]
        differs += [f"jsonData.{k}" for k, v in want["jsonData"].items() if (have.get("jsonData") or {}).get(k) != v]
        if differs:
            body = {**want, "jsonData": {**(have.get("jsonData") or {}), **want["jsonData"]}}
            g.call("update the datasource", lambda: g.api.datasource.update_datasource_by_uid(DATASOURCE_UID, body))
            report.note(f"datasource {DATASOURCE_NAME!r} ({DATASOURCE_UID}) -> {prometheus_url}: updated ({', '.join(differs)})", changed=True)
        else:
            report.note(f"datasource {DATASOURCE_NAME!r} ({DATASOURCE_UID}) -> {prometheus_url}: unchanged", changed=False)

    # every dashboard, by uid
    for uid, dashboard in dashboards.items():
        title = dashboard.get("title", uid)
        current = g.call(f"read dashboard {uid}", lambda: g.api.dashboard.get_dashboard(uid), missing_ok=True)
        if current is not None:
            same = _comparable(current.get("dashboard") or {}) == _comparable(dashboard)
            in_folder = (current.get("meta") or {}).get("folderUid") == FOLDER_UID
            if same and in_folder:
                report.note(f"dashboard {title!r} ({uid}): unchanged", changed=False)
                continue
        body = {"dashboard": {**dashboard, "id": None}, "folderUid": FOLDER_UID, "overwrite": True, "message": "aiops dashboards push"}
        g.call(f"save dashboard {uid}", lambda: g.api.dashboard.update_dashboard(body))
        report.note(f"dashboard {title!r} ({uid}): {'created' if current is None else 'updated'}", changed=True)
    return report
