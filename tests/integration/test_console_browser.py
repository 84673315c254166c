"""The trainee console in a real browser (headless Chromium through Selenium) over a fast detector stack.

collector (history continued from a short backfill) -> Prometheus (1 s scrape) -> `aiops detect`
(the 15 s rate-window signals file, 1 s cycles) -> `aiops console`; Chromium opens the page at
1280x720, triggers an incident by clicking, sees it active, sees it flagged with the detector's
own explanation and detected, stops it with its button, and sees the collector's refusal of a
bad value rendered in words. Screenshots go to a temporary folder (printed);
``AIOPS_CONSOLE_SCREENSHOT=path.png`` also saves the whole page, once the incident is detected,
there (the README's ``docs/images/console.png`` was made so).

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` and ``make test`` install them
with the Prometheus packages); Selenium is pointed at ``/usr/bin/chromedriver`` explicitly, since
its own driver download cannot work offline.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import pytest

from aiops import stack
from collector import APIError, CollectorClient
from plumbing import binaries as prom
from plumbing import monitoring as mon
from plumbing.procs import Child, free_port, wait_until

from tests.integration.conftest import FAST_RATE_WINDOW_SECONDS, RunningCollector, detector_scoring, start_collector

pytestmark = pytest.mark.integration  # `make test` runs each file on one worker (--dist loadfile): its module fixtures are built once
MODULE_SECONDS = 45  # on a quiet 2-core machine; the longest modules start first (tests/conftest.py)

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--window-size=1280,720")
INSTALL_HINT = "sudo apt-get install --no-install-recommends chromium chromium-driver"
SEED = 5
#: A few hours of history: enough for a baseline of intercept and context (the daily terms need two
#: days, which the detector loop's test covers); little enough that the stack starts in seconds.
HISTORY_HOURS = 3.0
HISTORY_STEP_SECONDS = FAST_RATE_WINDOW_SECONDS / 2
#: Time for the first fit, the rate windows to fill and three cycles, on a slow machine.
READY_TIMEOUT_SECONDS = FAST_RATE_WINDOW_SECONDS + 60


@dataclass
class ConsoleStack:
    collector: RunningCollector
    prometheus: prom.Server
    detector_url: str
    console_url: str
    shots: Path


@pytest.fixture(scope="module")
def console_stack(prometheus_bin: str, fast_signals: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleStack]:
    from collector import backfill

    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            pytest.skip(f"needs {path}; install it with: {INSTALL_HINT}")
    root = tmp_path_factory.mktemp("console")
    collector_port = free_port()
    history = backfill(root / "history", days=HISTORY_HOURS / 24, step_seconds=HISTORY_STEP_SECONDS, seed=SEED,
                       instance=f"127.0.0.1:{collector_port}", incidents_per_day=0.0)  # fmt: skip
    data = root / "prometheus-data"
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda p: prom.create_blocks_from_openmetrics(p, data), history.metrics_paths))
    children: list[Any] = []
    try:
        collector = start_collector(root / "collector", seed=SEED, port=collector_port, history_dir=root / "history")
        children.append(collector.child)
        detector_port = free_port()
        detector_url = f"http://127.0.0.1:{detector_port}"
        prometheus = stack.start_prometheus(
            root, targets={mon.COLLECTOR_JOB: [collector.target], mon.DETECTOR_JOB: [f"127.0.0.1:{detector_port}"]},
            data_dir=data, scrape_interval_seconds=1.0,
        )  # fmt: skip
        children.append(prometheus)
        detector_spec = stack.detector(
            port=detector_port, prometheus_url=prometheus.url, collector_url=collector.url, min_history_seconds=0.8 * HISTORY_HOURS * 3600,
            incident_records=history.incidents_path, signals_path=fast_signals, infer_every_seconds=1.0, scrape_interval_seconds=1.0, fit_every_seconds=600,
        )  # fmt: skip
        detector: Child = stack.start(detector_spec, log_dir=root, wait=False)
        children.append(detector)
        console_spec = stack.console(port=free_port(), collector_url=collector.url, detector_url=detector_url,
                                     prometheus_url=prometheus.url, signals_path=fast_signals, refresh_every_seconds=1.0)  # fmt: skip
        children.append(stack.start(console_spec, log_dir=root))

        wait_until(lambda: detector_scoring(detector_url), child=detector, timeout_seconds=READY_TIMEOUT_SECONDS)
        shots = root / "screenshots"
        shots.mkdir()
        yield ConsoleStack(collector, prometheus, detector_url, console_spec.url, shots)
    finally:
        for child in reversed(children):
            child.stop()


@pytest.fixture
def browser() -> Iterator[Any]:
    pytest.importorskip("selenium", reason="the browser test needs selenium (pip install -e '.[test]')")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    # the window is 1280x720 with the browser's own bars inside it; the page gets the projector's whole 1280x720
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 720, "deviceScaleFactor": 1, "mobile": False})
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(driver: Any, what: str, check: Callable[[Any], Any], timeout_seconds: float = 20.0) -> Any:
    """``check(driver)`` until truthy; on time out, fail naming ``what`` (with a screenshot's path)."""
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout_seconds, poll_frequency=0.25, ignored_exceptions=(StaleElementReferenceException,)).until(check)
    except TimeoutException:
        pytest.fail(f"the console did not show {what} within {timeout_seconds:.0f} s")


def test_a_trainee_triggers_watches_and_stops_an_incident_in_the_browser(console_stack: ConsoleStack, browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    s, d = console_stack, browser
    t0 = time.monotonic()
    d.get(s.console_url + "/")
    assert d.execute_script("return [window.innerWidth, window.innerHeight]") == [1280, 720]
    form = wait_for(d, "the cpu_hog form", lambda d: d.find_element(By.ID, "trigger-cpu_hog"))
    wait_for(d, "the detector scoring", lambda d: "Detector: scoring" in d.find_element(By.ID, "detector-status").text)

    # a bad value, sent from the keyboard (Enter in the field submits its form): the collector's
    # refusal, in its words, on the page (and nothing is triggered)
    intensity = form.find_element(By.NAME, "intensity")
    intensity.clear()
    intensity.send_keys("99", Keys.ENTER)
    with CollectorClient(s.collector.url) as collector, pytest.raises(APIError) as refusal:
        collector.trigger(kind="cpu_hog", service="frontend", intensity=99)
    expected = f"HTTP 422: {refusal.value.line()}"
    error = wait_for(d, "the refusal of intensity 99", lambda d: d.find_element(By.CSS_SELECTOR, "#messages .message.error"))
    assert error.text == f"Could not trigger cpu_hog on frontend: {expected}"
    assert "intensity" in expected and "allowed: 0.1 to 2" in expected
    assert not httpx.get(f"{s.collector.url}/api/incidents").json()["incidents"]
    d.save_screenshot(str(s.shots / "1-refused.png"))

    # trigger by clicking: a CPU hog on payments, at the catalog's largest intensity
    Select(form.find_element(By.NAME, "service")).select_by_visible_text("payments")
    intensity.clear()
    intensity.send_keys("2")
    form.find_element(By.CSS_SELECTOR, "button.trigger").click()
    row = wait_for(d, "the incident active", lambda d: [r for r in d.find_elements(By.CSS_SELECTOR, "#incidents li[data-state=active]") if "cpu_hog on payments" in r.text])[0]
    incident_id = row.get_attribute("data-incident-id")
    assert "● active" in row.text
    triggered = time.monotonic()
    d.save_screenshot(str(s.shots / "2-active.png"))

    # flagged, with the detector's own explanation, and detected
    flag = wait_for(d, "a flag on payments CPU", lambda d: d.find_element(By.CSS_SELECTOR, "#flags li.flag[data-service=payments][data-signal=cpu]"), timeout_seconds=90)
    page_text = flag.find_element(By.CLASS_NAME, "flag-text").text
    at = float(flag.get_attribute("data-time"))
    anomalies = httpx.get(f"{s.detector_url}/api/anomalies", params={"limit": 500}).json()["anomalies"]
    mine = [a for a in anomalies if (a["service"], a["signal"], a["timestamp_seconds"]) == ("payments", "cpu", at)]
    assert mine, f"no anomaly at {at} in the detector's /api/anomalies"
    assert page_text == mine[0]["explanation"]
    assert page_text.startswith("payments CPU") and "robust σ" in page_text
    detected = wait_for(d, "a detected incident on payments", lambda d: [x for x in d.find_elements(By.CSS_SELECTOR, "#detected li.detected") if "payments" in x.text and "open" in x.text], timeout_seconds=30)[0]
    assert "probable cause" in detected.text
    health = d.find_element(By.ID, "health-payments").text
    assert "cpu_hog" in health and "flagged" in health
    wait_for(d, "the payments CPU chart with its band and a flag", lambda d: d.find_elements(By.CSS_SELECTOR, "#cell-payments-cpu svg polygon.flag") and d.find_elements(By.CSS_SELECTOR, "#cell-payments-cpu svg polygon.band"), timeout_seconds=15)
    print(f"flagged and detected {time.monotonic() - triggered:.1f} s after the click: {page_text}")
    d.save_screenshot(str(s.shots / "3-detected.png"))
    if os.environ.get("AIOPS_CONSOLE_SCREENSHOT"):  # the whole page at 1280 px wide, charts included (the README's)
        height = d.execute_script("return document.documentElement.scrollHeight")
        d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": height, "deviceScaleFactor": 1, "mobile": False})
        d.save_screenshot(os.environ["AIOPS_CONSOLE_SCREENSHOT"])
        d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 720, "deviceScaleFactor": 1, "mobile": False})

    # stopped with its button
    button = d.find_element(By.CSS_SELECTOR, f"#incidents li[data-incident-id='{incident_id}'] button.stop")
    assert button.get_attribute("aria-label") == f"Stop incident {incident_id} (cpu_hog on payments)"
    button.click()
    wait_for(d, "the incident stopped", lambda d: d.find_element(By.CSS_SELECTOR, f"#incidents li[data-incident-id='{incident_id}']").get_attribute("data-state") == "stopped")
    assert httpx.get(f"{s.collector.url}/api/incidents/{incident_id}").json()["state"] == "stopped"
    assert f"Incident {incident_id} stopped." in d.find_element(By.ID, "messages").text
    d.save_screenshot(str(s.shots / "4-stopped.png"))

    # the panic button: nothing left to stop, and it says so
    d.find_element(By.ID, "panic").click()
    wait_for(d, "the panic button's answer", lambda d: "Stopped 0 incident(s); the chaos schedule is paused." in d.find_element(By.ID, "messages").text)
    print(f"browser test: {time.monotonic() - t0:.1f} s in the browser; screenshots in {s.shots}")


def test_a_detector_that_is_down_shows_as_down_not_as_an_empty_page(console_stack: ConsoleStack, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    from aiops.console import create_app
    from detector import DetectorClient
    from model import load_signals
    from plumbing.serving import AppServer

    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    app = create_app(collector=CollectorClient(console_stack.collector.url), detector=DetectorClient(nowhere), prometheus=None,
                     signals=load_signals(), refresh_every_seconds=1.0)  # fmt: skip
    with AppServer(app, name="console") as server:
        browser.get(server.url + "/")
        pill = wait_for(browser, "the detector down", lambda d: (p := d.find_element(By.ID, "detector-status")) and "down" in p.text and p)
        assert pill.text == "✖ Detector: down"
        problem = browser.find_element(By.CSS_SELECTOR, "#problems .problem").text
        assert problem.startswith(f"Detector down: the detector at {nowhere} did not answer /healthz")
        assert browser.find_element(By.ID, "scoreboard").text == "The detector is down: no scoreboard."
        charts = wait_for(browser, "why there are no charts", lambda d: (p := d.find_element(By.ID, "charts-error")).is_displayed() and p)
        assert charts.text == "No charts: no Prometheus configured (--prometheus-url)"
        assert browser.find_elements(By.CSS_SELECTOR, "#forms form.kind"), "the forms are there: incidents can still be triggered"
        browser.save_screenshot(str(console_stack.shots / "5-detector-down.png"))
