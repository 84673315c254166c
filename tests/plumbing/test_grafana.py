"""Grafana's settings and the annotation poster: off unless configured, never in the caller's way."""

from __future__ import annotations

import logging
import time

import pytest

from fake_grafana import FakeGrafana
from plumbing.grafana import ANNOTATION_TAG, AnnotationPoster, GrafanaSettings, annotation_poster
from plumbing.procs import free_port
from plumbing.settings import SettingsError, env_vars


# -- settings ----------------------------------------------------------------------------


def test_the_variables_share_one_prefix_and_credentials_come_from_the_environment() -> None:
    assert set(env_vars(GrafanaSettings).values()) == {
        "AIOPS_GRAFANA_URL", "AIOPS_GRAFANA_TOKEN", "AIOPS_GRAFANA_USER", "AIOPS_GRAFANA_PASSWORD",
        "AIOPS_GRAFANA_TIMEOUT_SECONDS", "AIOPS_GRAFANA_ANNOTATIONS",
    }  # fmt: skip
    s = GrafanaSettings.from_env({"AIOPS_GRAFANA_URL": "http://g:3000", "AIOPS_GRAFANA_TOKEN": "glsa_x", "AIOPS_GRAFANA_USER": "admin",
                                  "AIOPS_GRAFANA_PASSWORD": "pw"})  # fmt: skip
    assert s.credential == "glsa_x"  # a token wins over user and password
    assert "glsa_x" not in repr(s) and "pw" not in repr(s)
    basic = GrafanaSettings.from_env({"AIOPS_GRAFANA_USER": "admin", "AIOPS_GRAFANA_PASSWORD": "pw"})
    assert basic.credential == ("admin", "pw")
    assert GrafanaSettings.from_env({}).credential is None


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"AIOPS_GRAFANA_URL": "grafana:3000"}, "not an http:// or https:// URL"),
        ({"AIOPS_GRAFANA_USER": "admin"}, "go together"),
        ({"AIOPS_GRAFANA_TIMEOUT_SECONDS": "soon"}, "AIOPS_GRAFANA_TIMEOUT_SECONDS='soon'"),
        ({"AIOPS_GRAFANA_ANNOTATIONS": "maybe"}, "not a boolean"),
    ],
)
def test_a_bad_variable_is_refused_naming_it(env: dict[str, str], says: str) -> None:
    with pytest.raises(SettingsError, match=says):
        GrafanaSettings.from_env(env)


def test_annotations_are_off_unless_a_url_is_set_and_can_be_turned_off() -> None:
    assert annotation_poster(GrafanaSettings()) is None
    assert annotation_poster(GrafanaSettings(url="http://g:3000", annotations=False)) is None
    poster = annotation_poster(GrafanaSettings(url="http://g:3000/", token="t"))
    assert poster is not None and poster.url == "http://g:3000"
    poster.close()


# -- posting -----------------------------------------------------------------------------


def test_an_opened_and_closed_event_becomes_one_region_annotation() -> None:
    with FakeGrafana() as grafana:
        poster = AnnotationPoster(grafana.url, credential=grafana.token)
        poster.opened("detected-1", time_seconds=1000.0, text="D1 opened", tags=["detected", "payments", "cpu"])
        poster.closed("detected-1", start_seconds=1000.0, end_seconds=1180.5, text="D1 closed", tags=["detected", "payments", "cpu"])
        assert poster.flush()
        poster.close()
    [a] = grafana.annotations.values()
    assert (a["time"], a["timeEnd"]) == (1_000_000, 1_180_500)
    assert a["tags"] == [ANNOTATION_TAG, "detected", "payments", "cpu"]
    assert a["text"] == "D1 closed"
    assert [m for m, _ in grafana.writes()] == ["POST", "PATCH"]
    assert (poster.posted, poster.failed, poster.dropped) == (2, 0, 0)


def test_a_close_without_its_open_posts_the_whole_region() -> None:
    with FakeGrafana(token=None) as grafana:  # basic authentication
        poster = AnnotationPoster(grafana.url, credential=("admin", "admin"))
        poster.closed("incident-7", start_seconds=50.0, end_seconds=40.0, text="ended", tags=["incident"])
        assert poster.flush()
        poster.close()
    [a] = grafana.annotations.values()
    assert (a["time"], a["timeEnd"]) == (50_000, 50_000)  # an end before the start is clamped


def test_a_grafana_that_is_down_costs_one_warning_and_never_the_caller(caplog: pytest.LogCaptureFixture) -> None:
    poster = AnnotationPoster(f"http://127.0.0.1:{free_port()}", credential="t", timeout_seconds=0.5)
    caplog.set_level(logging.WARNING, logger="plumbing.grafana")
    started = time.perf_counter()
    for k in range(5):
        poster.opened(f"k{k}", time_seconds=float(k), text="x", tags=[])
    assert time.perf_counter() - started < 0.2  # queued, not sent
    assert poster.flush(10)
    poster.close()
    assert poster.failed == 5 and poster.posted == 0
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "did not take the annotation" in warnings[0].getMessage()


def test_a_refusing_grafana_is_a_warning_and_its_recovery_is_noted(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="plumbing.grafana")
    with FakeGrafana() as grafana:
        poster = AnnotationPoster(grafana.url, credential="wrong token")
        poster.opened("a", time_seconds=1.0, text="x", tags=[])
        assert poster.flush()
        poster._http.headers["Authorization"] = f"Bearer {grafana.token}"  # the runner fixes the token
        poster.opened("b", time_seconds=2.0, text="y", tags=[])
        assert poster.flush()
        poster.close()
    assert (poster.failed, poster.posted) == (1, 1)
    messages = [r.getMessage() for r in caplog.records]
    assert any("HTTP 401" in m for m in messages) and any("answers again" in m for m in messages)


def test_a_slow_grafana_fills_the_bounded_queue_and_drops_instead_of_waiting() -> None:
    with FakeGrafana(delay_seconds=0.3) as grafana:
        poster = AnnotationPoster(grafana.url, credential=grafana.token, queue_size=2)
        started = time.perf_counter()
        for k in range(10):
            poster.opened(f"k{k}", time_seconds=float(k), text="x", tags=[])
        assert time.perf_counter() - started < 0.2
        poster.close(timeout_seconds=5)
    assert poster.dropped >= 6
    assert poster.posted + poster.dropped + poster.failed == 10
