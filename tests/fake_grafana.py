"""A small fake Grafana for the tests: the few HTTP API calls the kit makes, written from Grafana's API docs.

Grafana cannot run on the machines the kit is built on, so ``aiops dashboards push`` (through
grafana-client) and the annotation posters are tested against this: a ``ThreadingHTTPServer``
on a free loopback port, in a thread. What it implements (Grafana 11 HTTP API, the shapes of
the documented examples; errors as ``{"message": ...}`` with the documented status):

- ``GET /api/health`` (no authentication): ``{"commit", "database", "version"}``;
- folders: ``GET /api/folders/:uid`` (404 unknown), ``POST /api/folders`` (409 when the uid
  exists), ``PUT /api/folders/:uid``;
- datasources: ``GET /api/datasources/uid/:uid`` (404), ``POST /api/datasources`` (409 when the
  name exists), ``PUT /api/datasources/uid/:uid``;
- dashboards: ``GET /api/dashboards/uid/:uid`` (``{"dashboard", "meta": {"folderUid", ...}}``, 404),
  ``POST /api/dashboards/db`` (``overwrite``; 412 on a version mismatch without it);
- annotations: ``POST /api/annotations`` (``{"message": "Annotation added", "id"}``),
  ``PATCH /api/annotations/:id``, ``GET /api/annotations``.

Every other call is a 404. Authentication: ``Authorization: Bearer <token>`` or basic
``user:password``; anything else is a 401 ``{"message": "Unauthorized"}``. Every request is
recorded (:attr:`FakeGrafana.requests`) so tests can count the writes.
"""

from __future__ import annotations

import base64
import copy
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

__all__ = ["FakeGrafana"]


@dataclass
class FakeGrafana:
    """The fake server's state; ``with FakeGrafana() as g: g.url`` serves it on a free loopback port."""

    version: str = "11.6.0"
    token: str | None = "glsa_test_token"
    user: str | None = "admin"
    password: str | None = "admin"
    delay_seconds: float = 0.0  # answer this late (a slow Grafana)
    status_override: int | None = None  # answer every call (but health) with this status (a broken Grafana)
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    datasources: dict[str, dict[str, Any]] = field(default_factory=dict)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)  # uid -> {"dashboard", "folderUid", "version"}
    annotations: dict[int, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._next_id = 1

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "FakeGrafana":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _body(self) -> Any:
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                return json.loads(raw) if raw else None

            def _handle(self, method: str) -> None:
                path = urlsplit(self.path).path
                try:
                    body = self._body()
                except ValueError:
                    self._reply(400, {"message": "bad request data"})
                    return
                status, reply = fake.handle(method, path, body, dict(self.headers))
                self._reply(status, reply)

            def _reply(self, status: int, reply: Any) -> None:
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_PUT(self) -> None:
                self._handle("PUT")

            def do_PATCH(self) -> None:
                self._handle("PATCH")

            def do_DELETE(self) -> None:
                self._handle("DELETE")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-grafana", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakeGrafana":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what tests look at ----------------------------------------------------------------

    def writes(self) -> list[tuple[str, str]]:
        """The requests that could change something (POST, PUT, PATCH, DELETE)."""
        return [r for r in self.requests if r[0] != "GET"]

    # -- the API -------------------------------------------------------------------------------

    def _authorized(self, headers: dict[str, str]) -> bool:
        auth = headers.get("Authorization") or headers.get("authorization") or ""
        if self.token and auth == f"Bearer {self.token}":
            return True
        if self.user is not None and auth.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                return False
            return (user, password) == (self.user, self.password)
        return False

    def handle(self, method: str, path: str, body: Any, headers: dict[str, str]) -> tuple[int, Any]:
        if self.delay_seconds:
            threading.Event().wait(self.delay_seconds)
        with self._lock:
            self.requests.append((method, path))
            if method == "GET" and path == "/api/health":
                return 200, {"commit": "fake", "database": "ok", "version": self.version}
            if self.status_override is not None:
                return self.status_override, {"message": "fake Grafana: failing on purpose"}
            if not self._authorized(headers):
                return 401, {"message": "Unauthorized"}
            parts = [p for p in path.split("/") if p]
            if parts[:2] == ["api", "folders"]:
                return self._folders(method, parts[2:], body)
            if parts[:2] == ["api", "datasources"]:
                return self._datasources(method, parts[2:], body)
            if parts[:2] == ["api", "dashboards"]:
                return self._dashboards(method, parts[2:], body)
            if parts[:2] == ["api", "annotations"]:
                return self._annotations(method, parts[2:], body)
            return 404, {"message": "Not found"}

    def _id(self) -> int:
        n = self._next_id
        self._next_id += 1
        return n

    def _folders(self, method: str, rest: list[str], body: Any) -> tuple[int, Any]:
        if method == "GET" and len(rest) == 1:
            f = self.folders.get(rest[0])
            return (200, f) if f else (404, {"message": "folder not found", "status": "not-found"})
        if method == "POST" and not rest:
            uid = body.get("uid") or f"f{self._next_id}"
            if uid in self.folders:
                return 409, {"message": "a folder with the same uid already exists"}
            f = {"id": self._id(), "uid": uid, "title": body["title"], "url": f"/dashboards/f/{uid}/", "version": 1}
            self.folders[uid] = f
            return 200, f
        if method == "PUT" and len(rest) == 1 and rest[0] in self.folders:
            f = self.folders[rest[0]]
            f.update(title=body.get("title", f["title"]), version=f["version"] + 1)
            return 200, f
        return 404, {"message": "folder not found"}

    def _datasources(self, method: str, rest: list[str], body: Any) -> tuple[int, Any]:
        if method == "GET" and len(rest) == 2 and rest[0] == "uid":
            ds = self.datasources.get(rest[1])
            return (200, copy.deepcopy(ds)) if ds else (404, {"message": "Data source not found"})
        if method == "POST" and not rest:
            if any(d["name"] == body["name"] for d in self.datasources.values()):
                return 409, {"message": "data source with the same name already exists"}
            ds = {"id": self._id(), "orgId": 1, "basicAuth": False, "readOnly": False, "version": 1, "jsonData": {}, **body}
            self.datasources[ds["uid"]] = ds
            return 200, {"datasource": ds, "id": ds["id"], "message": "Datasource added", "name": ds["name"]}
        if method == "PUT" and len(rest) == 2 and rest[0] == "uid" and rest[1] in self.datasources:
            ds = self.datasources[rest[1]]
            ds.update(body)
            ds["version"] += 1
            return 200, {"datasource": ds, "id": ds["id"], "message": "Datasource updated", "name": ds["name"]}
        return 404, {"message": "Data source not found"}

    def _dashboards(self, method: str, rest: list[str], body: Any) -> tuple[int, Any]:
        if method == "GET" and len(rest) == 2 and rest[0] == "uid":
            d = self.dashboards.get(rest[1])
            if not d:
                return 404, {"message": "Dashboard not found"}
            meta = {"folderUid": d["folderUid"], "version": d["version"], "slug": d["dashboard"].get("title", "").lower().replace(" ", "-")}
            return 200, {"dashboard": copy.deepcopy(d["dashboard"]), "meta": meta}
        if method == "POST" and rest == ["db"]:
            dash = dict(body["dashboard"])
            uid = dash.get("uid")
            if not uid:
                return 400, {"message": "fake Grafana: a dashboard without a uid"}
            folder = body.get("folderUid")
            if folder and folder not in self.folders:
                return 400, {"message": "folder not found"}
            old = self.dashboards.get(uid)
            if old and not body.get("overwrite") and dash.get("version") != old["version"]:
                return 412, {"message": "The dashboard has been changed by someone else", "status": "version-mismatch"}
            version = old["version"] + 1 if old else 1
            ident = old["dashboard"]["id"] if old else self._id()
            dash.update(id=ident, version=version)
            self.dashboards[uid] = {"dashboard": dash, "folderUid": folder or "", "version": version}
            return 200, {"id": ident, "uid": uid, "url": f"/d/{uid}/x", "status": "success", "version": version, "slug": "x"}
        return 404, {"message": "Dashboard not found"}

    def _annotations(self, method: str, rest: list[str], body: Any) -> tuple[int, Any]:
        if method == "POST" and not rest:
            if "time" not in body:
                return 400, {"message": "fake Grafana: an annotation needs a time"}
            ident = self._id()
            self.annotations[ident] = {"id": ident, "time": body["time"], "timeEnd": body.get("timeEnd", body["time"]),
                                       "tags": list(body.get("tags") or []), "text": body.get("text", "")}  # fmt: skip
            return 200, {"message": "Annotation added", "id": ident}
        if method == "PATCH" and len(rest) == 1 and rest[0].isdigit() and int(rest[0]) in self.annotations:
            self.annotations[int(rest[0])].update({k: v for k, v in body.items() if k in ("time", "timeEnd", "tags", "text")})
            return 200, {"message": "Annotation patched"}
        if method == "GET" and not rest:
            return 200, list(self.annotations.values())
        return 404, {"message": "Annotation not found"}
