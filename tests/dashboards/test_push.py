"""``aiops dashboards push`` against a fake Grafana (tests/fake_grafana.py, written from Grafana's HTTP API docs).

Grafana cannot run here; these tests are what "push works" rests on (the README says so).
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator, Sequence

import pytest

from dashboards import DATASOURCE_UID, FOLDER_TITLE, FOLDER_UID, PushError, dashboards, push
from fake_grafana import FakeGrafana
from plumbing.procs import free_port

PROMETHEUS = "http://prometheus:9090"
ALL = dashboards()


def _push(grafana: FakeGrafana, **kw: Any) -> Any:
    args: dict[str, Any] = {"credential": grafana.token, "prometheus_url": PROMETHEUS, "dashboards": ALL, "timeout_seconds": 5.0}
    return push(grafana.url, **{**args, **kw})


def test_a_first_push_creates_the_folder_the_datasource_and_every_dashboard(grafana: FakeGrafana) -> None:
    report = _push(grafana)
    assert report.grafana_version == "11.6.0" and report.changed == 2 + len(ALL)
    assert grafana.folders[FOLDER_UID]["title"] == FOLDER_TITLE
    ds = grafana.datasources[DATASOURCE_UID]
    assert (ds["type"], ds["url"], ds["access"], ds["jsonData"]["timeInterval"]) == ("prometheus", PROMETHEUS, "proxy", "5s")
    assert set(grafana.dashboards) == set(ALL)
    for uid, stored in grafana.dashboards.items():
        assert stored["folderUid"] == FOLDER_UID
        assert {k: v for k, v in stored["dashboard"].items() if k not in ("id", "version")} == ALL[uid]
    assert all("created" in line for line in report.lines)


def test_a_second_push_changes_nothing_and_says_so(grafana: FakeGrafana) -> None:
    _push(grafana)
    writes = len(grafana.writes())
    report = _push(grafana)
    assert report.changed == 0 and len(grafana.writes()) == writes
    assert all(line.endswith("unchanged") for line in report.lines)


def test_only_what_differs_is_written_again(grafana: FakeGrafana) -> None:
    _push(grafana)
    grafana.dashboards["aiops-detector-health"]["dashboard"]["title"] = "edited in the UI"
    grafana.datasources[DATASOURCE_UID]["url"] = "http://elsewhere:9090"
    before = len(grafana.writes())
    report = _push(grafana)
    assert report.changed == 2
    assert [w for w in grafana.writes()[before:]] == [("PUT", f"/api/datasources/uid/{DATASOURCE_UID}"), ("POST", "/api/dashboards/db")]
    assert grafana.dashboards["aiops-detector-health"]["dashboard"]["title"] == "Detector health"
    assert grafana.datasources[DATASOURCE_UID]["url"] == PROMETHEUS
    assert any("updated (url)" in line for line in report.lines)


def test_user_and_password_work_as_well_as_a_token(grafana: FakeGrafana) -> None:
    report = _push(grafana, credential=("admin", "admin"))
    assert report.changed == 2 + len(ALL)


@pytest.mark.parametrize("credential", ["wrong-token", ("admin", "wrong"), None])
def test_bad_credentials_are_one_line_naming_the_variables(grafana: FakeGrafana, credential: Any) -> None:
    with pytest.raises(PushError) as err:
        _push(grafana, credential=credential)
    message = str(err.value)
    assert "refused the credentials" in message and "AIOPS_GRAFANA_TOKEN" in message and "\n" not in message
    assert grafana.writes() == []


def test_an_old_grafana_is_refused_before_anything_is_written() -> None:
    with FakeGrafana(version="10.4.3") as old:
        with pytest.raises(PushError, match=r"Grafana 10\.4\.3 .* too old.*11\.0\.0"):
            _push(old)
        assert old.writes() == []


def test_a_grafana_that_fails_says_how() -> None:
    with FakeGrafana(status_override=500) as broken:
        with pytest.raises(PushError, match="HTTP 500|failed to"):
            _push(broken)
    with FakeGrafana(status_override=403) as forbidden:
        with pytest.raises(PushError, match="does not let these credentials.*HTTP 403"):
            _push(forbidden)


def test_a_wrong_url_is_one_line() -> None:
    with pytest.raises(PushError, match=r"cannot reach Grafana at http://127\.0\.0\.1:\d+ .*is the URL right\?"):
        push(f"http://127.0.0.1:{free_port()}", credential="t", prometheus_url=PROMETHEUS, dashboards=ALL, timeout_seconds=2)


@pytest.fixture
def not_grafana() -> Iterator[str]:
    """Something else on the port: a web server answering HTML."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            body = b"<html>hello</html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_something_else_on_the_url_is_not_taken_for_grafana(not_grafana: str) -> None:
    with pytest.raises(PushError, match="did not answer like Grafana"):
        push(not_grafana, credential="t", prometheus_url=PROMETHEUS, dashboards=ALL, timeout_seconds=2)


# -- the command ---------------------------------------------------------------------------


def test_the_command_takes_credentials_from_the_environment_and_says_when_nothing_changed(
    aiops: Callable[[Sequence[str]], int], grafana: FakeGrafana, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AIOPS_GRAFANA_TOKEN", str(grafana.token))
    argv = ["dashboards", "push", "--grafana-url", grafana.url, "--prometheus-url", PROMETHEUS]
    assert aiops(argv) == 0
    out = capsys.readouterr().out
    assert f"pushed to Grafana 11.6.0 at {grafana.url}: {2 + len(ALL)} change(s)" in out
    assert aiops(argv) == 0
    assert "nothing changed" in capsys.readouterr().out


def test_the_command_has_no_credential_options(aiops: Callable[[Sequence[str]], int], capsys: pytest.CaptureFixture[str]) -> None:
    for option in ("--token", "--password", "--user"):
        with pytest.raises(SystemExit):
            aiops(["dashboards", "push", "--grafana-url", "http://g:3000", option, "x"])
    assert "unrecognized arguments" in capsys.readouterr().err


def test_the_command_errors_are_one_line(aiops: Callable[[Sequence[str]], int], grafana: FakeGrafana, capsys: pytest.CaptureFixture[str]) -> None:
    assert aiops(["dashboards", "push"]) == 2
    assert "give --grafana-url" in capsys.readouterr().err
    assert aiops(["dashboards", "push", "--grafana-url", grafana.url]) == 2  # no credentials in the environment
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "refused the credentials" in err
