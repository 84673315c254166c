"""The scheduled AIOps loop: fit and infer as APScheduler jobs over a history source.

Two jobs, never a sleep loop:

- **fit** (every ``fit_every_seconds``): read ``fit_window_seconds`` of history at
  ``fit_step_seconds``, leave out ended incidents and earlier flags (capped), fit
  one batched baseline per signal;
- **infer** (every ``infer_every_seconds``, the scrape interval by default): read the
  last ``lookback_seconds`` (plus the change window of ``signals.yaml``, which the change
  components read before the rows they score: stateless, a restart changes nothing) at that
  step, score, debounce, explain the new flags (each names its component), correlate them
  into detected incidents.

- **score** (every ``infer_every_seconds``, when the detector knows the collector): fold
  the collector's incidents (the ground truth) and the detector's own onsets and
  detected incidents into an :class:`evaluation.Scoreboard`, exported as the
  ``aiops_scoreboard_*`` metrics and ``GET /api/scoreboard``. A job of its own, so a
  slow collector never delays scoring. Incidents that started before the detector
  first scored are left out (it could not have seen them).

The online loop's **re-baseline rule** (:mod:`detector._rebaseline`, ``rebaseline_after_seconds``):
a series flagged longer than the horizon is accepted as the new normal (a level offset on the
model, an ``/api/anomalies`` entry with ``"kind": "rebaseline"``, a log line, a counter);
``DetectorService.rebaseliner`` is None when it is off (a frozen model never re-baselines).

Each job has ``max_instances=1``, ``coalesce=True`` and a misfire grace time. A cycle
that fails (Prometheus slow or down) is counted and reported; the next one starts
afresh. Until ``min_history_seconds`` of history exist, the detector reports itself
as warming up and flags nothing.

**Model source.** ``online`` (the default) is the loop above. ``registry`` serves the
registered model's ``champion`` (a :class:`ChampionStore`, e.g. ``training.Registry``,
injected by the command so this package never imports MLflow): a **champion** job (every
``champion_check_every_seconds``, first at start) reads where the alias points and, when
it moved, loads that version and swaps it in; the model is never refitted. A registry
that cannot be read before any champion was loaded leaves the detector fitting online
(health ``online_fallback``, ``aiops_detector_registry_up 0``, a warning) until it can;
one that fails later keeps the last champion serving and says so. Either way every
metric carries ``model="online"`` or ``model="champion"``: the detector's role.

With an :class:`plumbing.grafana.AnnotationPoster` (``AIOPS_GRAFANA_URL`` set), each
detected incident is annotated in Grafana when it opens (probable cause, explanation)
and turned into a region when it closes; posting happens on the poster's own thread.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import zlib
from datetime import datetime, timezone
from collections import deque
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol, Sequence

import numpy as np
import pandas as pd
from apscheduler.events import EVENT_JOB_MAX_INSTANCES
from apscheduler.schedulers.background import BackgroundScheduler

from evaluation import Score, Scoreboard
from model import Anomaly, Correlator, DetectedIncident, FleetModel, SignalSet, as_epoch_seconds, load_signals
from plumbing.grafana import AnnotationPoster, GrafanaSettings, annotation_poster
from plumbing.monitoring import scrape_interval_seconds
from simulator import Catalog, load_catalog
from sources import CollectorRecords, HistorySource, IncidentRecord, PrometheusReader, PrometheusSource, read_incident_log

from ._exposition import ChampionOutput, DetectorSnapshot, RegisteredVersion, ScoreboardOutput, SeriesOutput
from ._rebaseline import Rebaseliner, make_rebaseliner
from ._settings import DetectorSettings

__all__ = ["ChampionStore", "DetectorService", "build_service", "in_shard"]

log = logging.getLogger("detector")


class ChampionStore(Protocol):
    """A model registry as the champion-serving detector reads it (``training.Registry`` is one)."""

    def champion_version(self) -> Any | None:
        """The version the ``champion`` alias points at (``.version``, ``.tags``), or None."""

    def load_version(self, version: str) -> FleetModel:
        """A registered version's weights as a fitted :class:`model.FleetModel`."""


def in_shard(service: str, index: int, count: int) -> bool:
    """Whether ``service`` belongs to shard ``index`` of ``count`` (a stable hash of its name)."""
    return zlib.crc32(service.encode()) % count == index


class DetectorService:
    """State and jobs of one detector replica. Thread-safe: jobs and HTTP handlers share a lock."""

    def __init__(
        self,
        settings: DetectorSettings,
        *,
        source: HistorySource,
        records: CollectorRecords | None = None,
        extra_records: Sequence[IncidentRecord] = (),
        dependencies: Sequence[tuple[str, str]] | None = None,
        signals: SignalSet | None = None,
        infer_every_seconds: float | None = None,
        scrape_interval_seconds: float | None = None,
        clock: Callable[[], float] = time.time,
        on_anomaly: Callable[[dict[str, Any]], None] | None = None,
        ground_truth: Callable[[], Sequence[Mapping[str, Any]]] | None = None,
        catalog: Catalog | None = None,
        annotations: AnnotationPoster | None = None,
        registry: Callable[[], ChampionStore] | None = None,
    ) -> None:
        """``registry``: connects to the model registry (registry mode; called again after a failure).

        ``scrape_interval_seconds`` (default: the settings', else the inference period): the
        collector's scrape interval, which sets how many samples a complete rate window holds.
        """
        self.settings = settings
        self.role = settings.role
        if settings.model_source == "registry" and registry is None:
            raise ValueError("model_source 'registry' needs a registry to read the champion from")
        self.connect_registry = registry
        self._registry: ChampionStore | None = None
        self.champion: ChampionOutput | None = None
        self.registered: tuple[RegisteredVersion, ...] = ()
        self.registry_up: bool | None = None if settings.model_source == "online" else False
        self.registry_error: str | None = None
        self.source = source
        self.records = records
        self.extra_records = list(extra_records)
        self.signals = signals or load_signals()
        self.infer_every_seconds = infer_every_seconds or settings.infer_every_seconds or 5.0
        self.scrape_interval_seconds = scrape_interval_seconds or settings.scrape_interval_seconds or self.infer_every_seconds
        self.clock = clock
        self.on_anomaly = on_anomaly
        self._lock = threading.RLock()
        self._dependencies = list(dependencies) if dependencies is not None else None
        self.correlator = Correlator(self._dependencies or [])
        self.model: FleetModel | None = None
        self.warmup_ratio = 0.0
        self.history_seconds = 0.0
        self.runs: dict[str, int] = {"success": 0, "failure": 0, "warming_up": 0}
        self.last_success_seconds: float | None = None
        self.last_run_duration_seconds: float | None = None
        self.last_error: str | None = None
        self.last_fit_seconds: float | None = None
        self._last_fit_attempt = -np.inf
        #: Seconds before a model-less service fits again: a minute while it warms up, from 5 s (doubling
        #: up to a minute) after a fit that failed (the demo starts us just before Prometheus answers).
        self._fit_retry_seconds = 60.0
        self._fit_failures = 0
        self.series: dict[tuple[str, str], SeriesOutput] = {}
        self.anomalies: deque[dict[str, Any]] = deque(maxlen=500)
        self._flag_log: deque[tuple[float, str, str]] = deque(maxlen=50_000)
        self._seen_until = -np.inf
        self._flagged_now: set[tuple[str, str]] = set()
        #: A champion just swapped in: the first cycle scored with it starts its onsets afresh (a cycle still
        #: in flight with the old model keeps the old ones, so it reports no spurious onset).
        self._fresh_onsets_for: FleetModel | None = None
        self.settling = False
        #: Samples in the newest row's rate windows over the samples a full window holds (None: not measured).
        self.completeness_ratio: float | None = None
        #: The inference period in force: doubled (up to 8x) each time a cycle overran the last one.
        self.infer_period_seconds = self.infer_every_seconds
        self.overrun: str | None = None
        self.last_fit_duration_seconds: float | None = None
        self._scheduler: Any = None
        # the scoreboard: the collector's incidents (ground truth) against this detector's detections
        self.ground_truth = ground_truth
        self.scoreboard: Scoreboard | None = Scoreboard(catalog or load_catalog()) if ground_truth is not None else None
        self.score: Score | None = None
        self.scoring_since_seconds: float | None = None
        self.annotations = annotations
        # the re-baseline rule: the online loop's only (None: off; set it to None for a frozen model)
        self.rebaseliner: Rebaseliner | None = make_rebaseliner(settings, self.signals)

    # ------------------------------------------------------------------ helpers
    def _shard(self, frame: pd.DataFrame) -> pd.DataFrame:
        if self.settings.shard_count == 1:
            return frame
        keep = [c for c in frame.columns if in_shard(c[0], self.settings.shard_index, self.settings.shard_count)]
        return frame.loc[:, keep]

    def _ensure_dependencies(self) -> None:
        if self._dependencies is None and self.records is not None:
            try:
                self._dependencies = self.records.dependencies()
                self.correlator.edges = set(self._dependencies)
            except Exception as exc:  # the collector may start after us; try again next cycle
                log.warning("no dependency graph yet: %s", exc)

    def _incident_records(self) -> list[IncidentRecord]:
        known = list(self.extra_records)
        if self.records is not None:
            try:
                known += self.records.refresh()
            except Exception as exc:
                log.warning("no incident records this fit: %s", exc)
                known += list(self.records.known.values())
        return known

    def _flag_frame(self, index: pd.DatetimeIndex, columns: pd.MultiIndex, step: float) -> pd.DataFrame | None:
        if not self._flag_log:
            return None
        t = as_epoch_seconds(index)
        stamps = np.array([ts for ts, _, _ in self._flag_log])
        cols = columns.get_indexer([(service, signal) for _, service, signal in self._flag_log])
        rows = np.searchsorted(t, stamps, side="right") - 1  # the grid point each flag falls after
        ok = (cols >= 0) & (rows >= 0) & (stamps - t[np.clip(rows, 0, None)] < step)
        mask = np.zeros((len(t), len(columns)), dtype=bool)
        mask[rows[ok], cols[ok]] = True
        return pd.DataFrame(mask, index=index, columns=columns)

    def _record(self, outcome: str, started: float, error: str | None = None) -> None:
        self.runs[outcome] = self.runs.get(outcome, 0) + 1
        self.last_run_duration_seconds = time.perf_counter() - started
        if outcome == "success":
            self.last_success_seconds = self.clock()
            self.last_error = None
        elif error:
            self.last_error = error

    # ---------------------------------------------------------------------- fit
    def fit_cycle(self) -> None:
        """Refit the baselines on the history window (a scheduled job; never raises)."""
        if self.champion is not None:  # registry mode: the champion is frozen, never refitted
            return
        started = time.perf_counter()
        now = self.clock()
        self._last_fit_attempt = now
        try:
            frame = self._shard(
                self.source.fetch(now - self.settings.fit_window_seconds, now, self.settings.fit_step_seconds)
            )
            have = frame.notna().any(axis=1)
            first = as_epoch_seconds(frame.index[have.to_numpy()])[:1] if have.any() else np.array([])
            history = float(now - first[0]) if len(first) else 0.0
            need = self.settings.min_history_seconds
            with self._lock:
                if self.champion is not None:  # a champion arrived while this fallback fit read: it needs no warm-up
                    return
                self.history_seconds = history
                self.warmup_ratio = 1.0 if need <= 0 else min(1.0, history / need)
            if not have.any() or (need > 0 and history < need):
                with self._lock:
                    self._fit_retry_seconds, self._fit_failures = 60.0, 0
                log.info("warming up: %.0f s of history, %.0f s needed", history, need)
                return
            frame = frame.loc[have.to_numpy()]
            self._ensure_dependencies()
            flagged = self._flag_frame(frame.index, frame.columns, self.settings.fit_step_seconds)
            edges = list(self._dependencies or [])
            rebaseliner = self.rebaseliner
            with self._lock:  # accepted changes are fitted without their step, then their offsets put back
                fit_frame = rebaseliner.adjust(frame) if rebaseliner is not None else frame
            model = FleetModel(self.signals, dependencies=edges).fit(
                fit_frame, incidents=self._incident_records(), flagged=flagged, fit_time=now
            )
            if rebaseliner is not None:
                with self._lock:
                    model = rebaseliner.refresh(model, frame)
            with self._lock:
                if self.champion is not None:  # a champion arrived while this fit ran: it wins
                    return
                self.model = model
                self.last_fit_seconds = now
                self.last_fit_duration_seconds = time.perf_counter() - started
                self._fit_retry_seconds, self._fit_failures = 60.0, 0
            log.info("fitted %d signals on %d points", len(model.models_), len(frame))
        except Exception as exc:
            log.warning("fit failed: %s", exc)
            with self._lock:
                self._record("failure", started, f"fit: {exc}")
                self._fit_failures += 1
                self._fit_retry_seconds = min(60.0, 5.0 * 2.0 ** (self._fit_failures - 1))

    # ----------------------------------------------------------------- champion
    def champion_cycle(self) -> None:
        """Registry mode: load the ``champion`` when it is new or moved (a scheduled job; never raises)."""
        if self.connect_registry is None:
            return
        try:
            if self._registry is None:
                self._registry = self.connect_registry()
            current = self._registry.champion_version()
            if current is None:
                raise LookupError("the registered model has no version with the champion alias yet (run `aiops train`)")
            version = str(current.version)
            if self.champion is None or self.champion.version != version:
                model = self._registry.load_version(version)
                tags = dict(getattr(current, "tags", None) or {})
                served = ChampionOutput(model_name=str(getattr(current, "name", "")), version=version, data_window=tags.get("data_window", ""))
                self._ensure_dependencies()  # the correlator's graph: read at fit time online, so here for the champion
                if self._dependencies is None and model.dependencies:  # no collector: the graph the champion was fitted with
                    self._dependencies = [tuple(e) for e in model.dependencies]
                    self.correlator.edges = set(self._dependencies)
                with self._lock:
                    before = self.champion
                    self.model = model
                    self.champion = served
                    self.warmup_ratio = 1.0
                    self.last_fit_seconds = float(as_epoch_seconds(pd.DatetimeIndex([model.fit_time_]))[0])
                    self._fresh_onsets_for = model
                if before is None:
                    log.info("serving the champion: %s version %s (data window %s)", served.model_name, version, served.data_window or "unknown")
                else:
                    log.info("the champion alias moved: serving %s version %s instead of version %s", served.model_name, version, before.version)
            listing = getattr(self._registry, "versions", None)
            if listing is not None:
                registered = tuple(
                    RegisteredVersion(
                        model_name=str(getattr(v, "name", "")), version=str(v.version), created_seconds=float(getattr(v, "created_seconds", 0) or 0),
                        gate=(v.tags or {}).get("gate", ""), candidate=(v.tags or {}).get("candidate", ""),
                    )
                    for v in listing()
                )  # fmt: skip
                with self._lock:
                    self.registered = registered
            if self.registry_up is False and self.registry_error is not None:
                log.info("the model registry answers again")
            with self._lock:
                self.registry_up, self.registry_error = True, None
        except Exception as exc:
            error = " ".join(str(exc).split())[:300] or type(exc).__name__
            self._registry = None  # connect afresh next time
            with self._lock:
                first = self.registry_error is None
                self.registry_up, self.registry_error = False, error
                champion = self.champion
            if first:  # once per outage, not every check
                if champion is None:
                    log.warning("no champion from the model registry (%s): fitting online until one can be loaded", error)
                else:
                    log.warning("the model registry cannot be read (%s): champion version %s keeps serving", error, champion.version)

    # -------------------------------------------------------------------- infer
    def infer_cycle(self) -> None:
        """Score the newest points, explain new flags, correlate (a scheduled job; never raises)."""
        started = time.perf_counter()
        now = self.clock()
        with self._lock:
            model = self.model
        if model is None:
            if now - self._last_fit_attempt >= min(self._fit_retry_seconds, self.settings.fit_every_seconds):
                self.fit_cycle()
            with self._lock:
                model = self.model
            if model is None:
                with self._lock:
                    self._record("warming_up", started)
                return
        try:
            step = self.infer_every_seconds
            # the change components read a window of residuals before the rows they score: read it too,
            # so every cycle scores from what it reads (a restart changes nothing)
            span = self.settings.lookback_seconds + model.signal_set_.change_history_seconds()
            frame = self._shard(self.source.fetch(now - span, now, step))
            frame = frame.loc[frame.notna().any(axis=1).to_numpy()]
            if frame.empty:
                raise RuntimeError("no recent data (is the collector scraped?)")
            newest = frame.index.max()
            frame = self._complete_windows(frame, now, step, span)
            # just after a start or a scrape gap the newest rate windows are still filling: the complete
            # older rows are scored, but the detector says it is settling until the newest row is complete
            newest_complete = not frame.empty and frame.index.max() == newest
            if frame.empty:
                with self._lock:
                    self.settling = True
                    self._record("success", started)
                return
            self.settling = not newest_complete
            rows = model.detect(frame)
            latest = rows.dropna(subset=["value"]).groupby(["service", "signal"], sort=False).tail(1)
            series = {
                (r.service, r.signal): SeriesOutput(
                    expected=float(r.expected), lower=float(r.lower), upper=float(r.upper),
                    score=float(np.nan_to_num(r.anomaly_score)), anomaly=bool(r.anomalous),
                )
                for r in latest.itertuples()
            }
            t = as_epoch_seconds(pd.DatetimeIndex(rows["timestamp"]))
            new = rows[(rows["anomalous"].to_numpy()) & (t > self._seen_until)]
            anomalies = self._explain(model, frame, new) if len(new) else []
            if self.rebaseliner is not None:
                self._rebaseline(model, rows, t > self._seen_until, frame, now)
            onsets: set[tuple[str, str]] = set()
            with self._lock:
                flagged_before = set() if self._fresh_onsets_for is model else self._flagged_now
                if self._fresh_onsets_for is model:
                    self._fresh_onsets_for = None
            for a, d in sorted(anomalies, key=lambda x: x[0].timestamp_seconds):
                key = (a.service, a.signal)
                d["onset"] = key not in flagged_before and key not in onsets
                if d["onset"]:
                    onsets.add(key)
            self._flagged_now = {k for k, v in series.items() if v.anomaly}
            with self._lock:
                self.series = series
                if len(rows):
                    self._seen_until = max(self._seen_until, float(t.max()))
                for a, d in anomalies:
                    self.anomalies.append(d)
                    self._flag_log.append((a.timestamp_seconds, a.service, a.signal))
                was_open = {i.id for i in self.correlator.open_incidents()}
                self.correlator.update(now, [a for a, _ in anomalies])
                opened = [i for i in self.correlator.open_incidents() if i.id not in was_open]
                closed = [i for i in self.correlator.incidents if i.id in was_open and not i.is_open]
                if self.scoring_since_seconds is None and self.warmup_ratio >= 1.0:
                    self.scoring_since_seconds = float(as_epoch_seconds(frame.index)[0])  # the first point it scored
                self._record("success", started)
            for _, d in anomalies:
                if self.on_anomaly is not None and d["onset"]:
                    self.on_anomaly(d)
            self._annotate(opened, closed)
        except Exception as exc:
            log.warning("inference failed: %s", exc)
            with self._lock:
                self._record("failure", started, f"infer: {exc}")

    def _rebaseline(self, model: FleetModel, rows: pd.DataFrame, new: np.ndarray, frame: pd.DataFrame, now: float) -> None:
        """The re-baseline rule on this cycle's rows (``new``: not seen before): withdraw the changes that went away, accept those flagged longer than the horizon."""
        rebaseliner = self.rebaseliner
        if rebaseliner is None:
            return
        with self._lock:
            ended = rebaseliner.withdraw_returned(rows)
            if ended:  # on the latest model (a refit may have replaced this cycle's)
                self.model = (self.model or model).with_level_offsets(rebaseliner.offsets)
                self.anomalies.extend(ended)
            due = rebaseliner.observe(rows[new])
        for e in ended:
            log.info("re-baseline withdrawn: %s", e["explanation"])
        if not due:
            return
        since = min(c.since_seconds for c in due)
        step = self.settings.fit_step_seconds
        try:  # the data since the change began; this cycle's window when Prometheus does not answer
            history = self._shard(self.source.fetch(since - step, now, step))
        except Exception as exc:
            log.warning("re-baseline: no history since the change began (%s); using the last %.0f s", exc, self.settings.lookback_seconds)
            history = frame
        with self._lock:
            events = rebaseliner.accept(due, model.with_level_offsets({}), history)
            if events:
                self.model = (self.model or model).with_level_offsets(rebaseliner.offsets)
                accepted = {(e["service"], e["signal"]): e["since_seconds"] for e in events}
                self._flag_log = deque(
                    (f for f in self._flag_log if not ((f[1], f[2]) in accepted and f[0] >= accepted[(f[1], f[2])])),
                    maxlen=self._flag_log.maxlen,
                )
            for e in events:
                self.anomalies.append(e)
        for e in events:
            log.info("re-baseline: %s", e["explanation"])

    def _annotate(self, opened: Sequence[DetectedIncident], closed: Sequence[DetectedIncident]) -> None:
        """Post an annotation for each detected incident that opened or closed (queued; never waits on Grafana)."""
        if self.annotations is None:
            return
        for inc in opened:
            self.annotations.opened(
                f"detected-{inc.id}", time_seconds=inc.opened_seconds, text=_incident_text(inc, closing=False), tags=_incident_tags(inc, self.role)
            )
        for inc in closed:
            self.annotations.closed(
                f"detected-{inc.id}",
                start_seconds=inc.opened_seconds,
                end_seconds=inc.closed_seconds or inc.last_seen_seconds,
                text=_incident_text(inc, closing=True),
                tags=_incident_tags(inc, self.role),
            )

    # ---------------------------------------------------------------- scoreboard
    def score_cycle(self) -> None:
        """Score the collector's incidents against this detector's detections (a scheduled job; never raises)."""
        if self.scoreboard is None or self.ground_truth is None:
            return
        with self._lock:
            since = self.scoring_since_seconds
        if since is None:  # nothing scored yet: no incident could have been detected
            return
        try:
            incidents = list(self.ground_truth())
        except Exception as exc:
            log.warning("scoreboard: no incidents from the collector this cycle: %s", exc)
            return
        now = self.clock()
        with self._lock:
            anomalies = list(self.anomalies)
            detected = self.correlator.snapshot()
        try:
            board = self.scoreboard
            board.add_incidents(i for i in incidents if float(i["start_seconds"]) >= since)
            board.add_anomalies(anomalies)
            board.add_detected(detected)
            score = board.score(now)
        except Exception as exc:  # an incident the scoreboard cannot read: keep the last score
            log.warning("scoreboard: not scored this cycle: %s", exc)
            return
        with self._lock:
            self.score = score

    def scoreboard_report(self) -> dict[str, Any]:
        """The scoreboard as JSON (``GET /api/scoreboard``): totals, one entry per incident, the false alarms."""
        with self._lock:
            score, since = self.score, self.scoring_since_seconds
        if self.scoreboard is None:
            return {"status": "off", "reason": "the detector does not know the collector (no ground truth)"}
        if score is None:
            return {"status": "waiting", "reason": "the detector has not scored yet", "scoring_since_seconds": since}
        return {"status": "ok", "scoring_since_seconds": since, **score.as_dict()}

    def _complete_windows(self, frame: pd.DataFrame, now: float, step: float, span: float | None = None) -> pd.DataFrame:
        """The rows whose rate windows hold enough live samples (see ``completeness`` in signals.yaml); ``span``: the seconds read."""
        counter = getattr(self.source, "samples_in_window", None)
        if counter is None:
            return frame
        counts = counter(now - (self.settings.lookback_seconds if span is None else span), now, step)
        if counts is None:
            return frame
        window, min_ratio = self.signals.completeness_window_seconds, self.signals.completeness_min_ratio
        expected = window / self.scrape_interval_seconds  # the samples a full window holds: one per scrape, however often we score
        # A window is complete when it has held min_ratio of its samples for the last (1 - min_ratio) of
        # a window too: scattered missed scrapes pass, but the tail of a gap does not. Just after a gap the
        # count climbs through min_ratio while the window still reaches into the gap, and rate() over it
        # reads low by the missing share (seen after a 60 s Prometheus outage: request rates 7 % low, and
        # every signal that has the request rate as context flagged); it waits until the gap has left it.
        back = max(0, math.ceil((1.0 - min_ratio) * window / self.infer_every_seconds - 1e-9))
        steady = counts.rolling(back + 1, min_periods=1).min().reindex(frame.index).fillna(0.0)
        if len(steady):  # the newest row's figure, by the same rule: below min_ratio whenever it is not scored
            self.completeness_ratio = float(min(1.0, steady.iloc[-1] / expected)) if expected > 0 else 1.0
        ok = steady >= min_ratio * expected
        return frame.loc[ok.to_numpy()]

    def _explain(self, model: FleetModel, frame: pd.DataFrame, new: pd.DataFrame) -> list[tuple[Anomaly, dict[str, Any]]]:
        marks = pd.DataFrame(False, index=frame.index, columns=frame.columns)
        for r in new.itertuples():
            if (r.service, r.signal) in marks.columns:
                marks.loc[r.timestamp, (r.service, r.signal)] = True
        explained = model.explain(frame, marks)
        out = []
        terms = explained.terms
        for i, r in enumerate(explained.summary.itertuples()):
            ts = float(as_epoch_seconds(pd.DatetimeIndex([r.timestamp]))[0])
            parts = terms[terms["point"] == i]
            d = {
                "kind": "anomaly",
                "timestamp_seconds": ts,
                "timestamp": pd.Timestamp(r.timestamp).isoformat(),
                "service": r.service,
                "signal": r.signal,
                "actual": float(r.actual),
                "expected": float(r.expected),
                "residual": float(r.residual),
                "residual_sigma": float(r.residual_sigma),
                "anomaly_score": float(r.anomaly_score),
                "component": str(r.component),
                "explanation": r.sentence,
                "contributions": [
                    {"term": p.term, "value": None if pd.isna(p.value) else float(p.value), "contribution": float(p.contribution)}
                    for p in parts.itertuples()
                ],
                "baseline": float(r.baseline),
            }
            a = Anomaly(
                timestamp_seconds=ts, service=r.service, signal=r.signal, score=float(r.anomaly_score),
                actual=float(r.actual), expected=float(r.expected), explanation=r.sentence,
            )
            out.append((a, d))
        return out

    # ------------------------------------------------------------------ outputs
    def snapshot(self) -> DetectorSnapshot:
        with self._lock:
            board = None
            if self.scoreboard is not None:
                s = self.score
                board = ScoreboardOutput(
                    detected=len(s.time_to_detect) if s else 0,
                    missed=len(s.missed) if s else 0,
                    waiting=len(s.waiting) if s else 0,
                    false_alarms=len(s.false_alarms) if s else 0,
                    time_to_detect_seconds=tuple(s.time_to_detect.values()) if s else (),
                )
            return DetectorSnapshot(
                series=dict(self.series) if self.warmup_ratio >= 1.0 else {},
                active_incidents=tuple((i.cause_service, i.cause_signal) for i in self.correlator.open_incidents()),
                warmup_ratio=self.warmup_ratio,
                last_success_seconds=self.last_success_seconds,
                last_run_duration_seconds=self.last_run_duration_seconds,
                runs_total=dict(self.runs),
                settling=self.settling,
                last_fit_seconds=self.last_fit_seconds,
                last_fit_duration_seconds=self.last_fit_duration_seconds,
                scoreboard=board,
                model=self.role,
                champion=self.champion,
                registry_up=self.registry_up,
                registered=self.registered,
                rebaselines_total=dict(self.rebaseliner.counts) if self.rebaseliner is not None else {},
            )

    def recent_anomalies(self, limit: int = 100) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.anomalies)[-limit:][::-1]

    def detected_incidents(self) -> list[dict[str, Any]]:
        with self._lock:
            return self.correlator.snapshot()

    def health(self) -> dict[str, Any]:
        with self._lock:
            now = self.clock()
            stale = self.last_success_seconds is None or now - self.last_success_seconds > 3 * self.infer_every_seconds + 30
            status = "warming_up" if self.warmup_ratio < 1.0 else ("degraded" if stale else "settling" if self.settling else "ok")
            if self.settings.model_source == "registry" and self.champion is None:
                status = "online_fallback" if status == "ok" else status
            body: dict[str, Any] = {"model": self.role, "model_source": self.settings.model_source}
            if self.settings.model_source == "registry":
                body["champion"] = None if self.champion is None else vars(self.champion)
                body["registry_up"] = self.registry_up
                body["registry_error"] = self.registry_error
            reason = {
                "warming_up": f"{self.warmup_ratio:.0%} of the history needed to fit",
                "degraded": f"no successful cycle for a while ({self.last_error or 'none yet'})",
                "settling": (
                    "the newest rate windows hold too few samples (after a start or a scrape gap); scoring waits for them "
                    f"(a full {self.signals.completeness_window_seconds:g} s window holds "
                    f"{self.signals.completeness_window_seconds / self.scrape_interval_seconds:g} at a {self.scrape_interval_seconds:g} s scrape interval)"
                ),
                "online_fallback": f"no champion from the registry ({self.registry_error or 'not checked yet'}): scoring with an online fit meanwhile",
                "ok": None,
            }[status]
            if status == "ok" and self.last_error is not None:
                reason = f"the last cycle failed: {self.last_error}"
            return {
                "status": status,
                **body,
                "ready": status in ("ok", "online_fallback") and self.last_error is None,
                "reason": reason,
                "completeness_ratio": self.completeness_ratio,
                "infer_period_seconds": self.infer_period_seconds,
                "overrun": self.overrun,
                "warmup_ratio": self.warmup_ratio,
                "history_seconds": self.history_seconds,
                "history_needed_seconds": self.settings.min_history_seconds,
                "last_success_seconds": self.last_success_seconds,
                "last_fit_seconds": self.last_fit_seconds,
                "last_error": self.last_error,
                "runs": dict(self.runs),
                "shard": f"{self.settings.shard_index}/{self.settings.shard_count}",
            }

    # -------------------------------------------------------------- scheduling
    def start(self) -> None:
        """Start the fit and infer jobs on a background APScheduler (first fit right away)."""
        scheduler = BackgroundScheduler(timezone="UTC")
        common = {"max_instances": 1, "coalesce": True, "misfire_grace_time": int(max(1, self.settings.misfire_grace_seconds))}
        first = datetime.fromtimestamp(self.clock(), tz=timezone.utc)
        if self.connect_registry is not None:
            self.champion_cycle()  # before the first fit: with a champion there is nothing to fit
            scheduler.add_job(self.champion_cycle, "interval", seconds=self.settings.champion_check_every_seconds, id="champion", **common)
        scheduler.add_job(self.fit_cycle, "interval", seconds=self.settings.fit_every_seconds, id="fit", next_run_time=first, **common)
        scheduler.add_job(self.infer_cycle, "interval", seconds=self.infer_every_seconds, id="infer", **common)
        if self.scoreboard is not None:
            scheduler.add_job(self.score_cycle, "interval", seconds=self.infer_every_seconds, id="score", **common)
        scheduler.add_listener(lambda event: self.cycle_overran(event.job_id), EVENT_JOB_MAX_INSTANCES)
        scheduler.start()
        self._scheduler = scheduler

    def cycle_overran(self, job_id: str) -> float | None:
        """A run of ``job_id`` was skipped because the last one still ran: back off (double the period, at most 8x), say so once per step.

        Returns the new inference period, or None when nothing changed.
        """
        if job_id != "infer":
            return None
        with self._lock:
            longest = 8 * self.infer_every_seconds
            if self.infer_period_seconds >= longest:
                return None
            self.infer_period_seconds = min(longest, 2 * self.infer_period_seconds)
            self.overrun = (
                f"an inference cycle took longer than its {self.infer_period_seconds / 2:g} s period; "
                f"now every {self.infer_period_seconds:g} s"
            )
            log.warning("%s", self.overrun)
            if self._scheduler is not None:
                self._scheduler.reschedule_job("infer", trigger="interval", seconds=self.infer_period_seconds)
            return self.infer_period_seconds

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        if self.annotations is not None:
            self.annotations.close()


def _incident_tags(inc: DetectedIncident, role: str) -> list[str]:
    return ["detected", role, inc.cause_service, inc.cause_signal]


def _incident_text(inc: DetectedIncident, *, closing: bool) -> str:
    """An annotation's text: the detected incident, its probable cause and the cause's explanation (the model's own numbers)."""
    services = ", ".join(sorted(inc.services))
    cause = next((a for a in inc.members if (a.service, a.signal) == (inc.cause_service, inc.cause_signal)), None)
    head = f"Detected incident D{inc.id} on {services}: probable cause {inc.cause_service} {inc.cause_signal}"
    if closing:
        quiet = (inc.closed_seconds or inc.last_seen_seconds) - inc.opened_seconds
        head = f"Detected incident D{inc.id} closed after {quiet:.0f} s ({len(inc.members)} anomalies on {services}): probable cause {inc.cause_service} {inc.cause_signal}"
    return head + (f". {cause.explanation}" if cause is not None and cause.explanation else "")


def build_service(
    settings: DetectorSettings,
    *,
    incident_records: Path | None = None,
    signals_path: Path | None = None,
    grafana: GrafanaSettings | None = None,
    registry: Callable[[], ChampionStore] | None = None,
) -> DetectorService:
    """The service wired to Prometheus and the collector, as ``aiops detect`` runs it.

    ``signals_path``: the signals file (default: the packaged ``model/signals.yaml``); its
    PromQL, rate window and completeness check are what the service queries and waits for.
    A bad file raises :class:`model.SignalsError`. The collector's incident list is the
    scoreboard's ground truth. ``grafana`` (default: :meth:`GrafanaSettings.from_env`, the
    ``AIOPS_GRAFANA_*`` variables) with a URL: detected incidents are annotated there;
    ``GrafanaSettings()`` turns that off. ``registry`` connects to the model registry
    (``model_source`` ``registry``).
    """
    grafana = grafana if grafana is not None else GrafanaSettings.from_env()
    signals = load_signals(signals_path)
    reader = PrometheusReader(base_url=settings.prometheus_url, timeout_seconds=settings.timeout_seconds)
    extra = read_incident_log(incident_records) if incident_records else []
    records = CollectorRecords(settings.collector_url, timeout_seconds=settings.timeout_seconds)
    scrape = settings.scrape_interval_seconds or scrape_interval_seconds()
    return DetectorService(
        settings,
        source=PrometheusSource(reader, signals),
        records=records,
        extra_records=extra,
        signals=signals,
        infer_every_seconds=settings.infer_every_seconds or scrape,
        scrape_interval_seconds=scrape,
        ground_truth=records.incidents,
        annotations=annotation_poster(grafana, name="detector"),
        registry=registry,
    )
