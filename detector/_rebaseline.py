"""The online loop's re-baseline rule: a change flagged for longer than a horizon becomes the new normal.

:class:`Rebaseliner` is the service's memory of it (the rule itself, pure, is in
:mod:`model._rebaseline`):

- every inference cycle, :meth:`Rebaseliner.observe` follows each series' run of flags
  (gaps up to ``max_gap_seconds`` allowed) and returns the runs that have lasted
  ``after_seconds``;
- :meth:`Rebaseliner.accept` turns those into level offsets (the median residual since the
  change began, from the model without offsets), one ``/api/anomalies`` entry each
  (``"kind": "rebaseline"``, with a sentence that has the numbers) and a count per series
  (``aiops_detector_rebaselines_total{service, signal}``);
- every inference cycle too, :meth:`Rebaseliner.withdraw_returned` withdraws an accepted change
  that went away (the series back near its old baseline: an incident that was accepted and then
  ended, a release rolled back), so a withdrawn offset never leaves the detector deaf;
- before every refit, :meth:`Rebaseliner.adjust` takes each accepted offset off the points
  since its change began, so the fit learns the series' shape without the step (and its noise
  scale and threshold stay those of normal points); after it, :meth:`Rebaseliner.refresh`
  recomputes the offsets against the new fit.

Only the online loop re-baselines: a frozen model (a champion loaded from the registry) is
served as it was trained, which is the contrast the drift lesson shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd

from model import JOIN_WINDOW_SECONDS, AcceptedChange, FlagRuns, FleetModel, SignalSet, as_epoch_seconds, format_value, has_returned, level_offset

from ._settings import DetectorSettings

__all__ = ["Rebaseline", "Rebaseliner", "make_rebaseliner", "rebaseline_sentence"]

Key = tuple[str, str]


@dataclass(frozen=True, kw_only=True)
class Rebaseline:
    """One accepted change on one series: when it began, when it was accepted and the level offset."""

    service: str
    signal: str
    since_seconds: float
    accepted_seconds: float
    offset: float


def _span(seconds: float) -> str:
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return (f"{h}h" if h else "") + (f"{m:02d}m" if h else f"{m}m" if m else "") + f"{sec:02d}s"


def rebaseline_sentence(change: Rebaseline, *, subject: str, unit: str, after_seconds: float) -> str:
    """The event line: ``payments p95 latency: flagged for 15m05s (since 10:01:00Z, horizon 15m00s); accepted as the new normal ...``."""
    since = pd.Timestamp(change.since_seconds, unit="s", tz="UTC").strftime("%H:%M:%SZ")
    return (
        f"{subject}: flagged for {_span(change.accepted_seconds - change.since_seconds)} (since {since}, "
        f"horizon {_span(after_seconds)}); accepted as the new normal: the baseline moves by "
        f"{format_value(change.offset, unit, signed=True)} (the median residual since the change began)"
    )


class Rebaseliner:
    """The re-baseline rule's state in one detector (not thread-safe: the service holds its lock around calls)."""

    def __init__(self, *, after_seconds: float, max_gap_seconds: float, signals: SignalSet) -> None:
        self.after_seconds = float(after_seconds)
        self.runs = FlagRuns(after_seconds=after_seconds, max_gap_seconds=max_gap_seconds)
        self.signals = signals
        self.accepted: dict[Key, Rebaseline] = {}
        self.counts: dict[Key, int] = {}

    @property
    def offsets(self) -> dict[Key, float]:
        return {k: c.offset for k, c in self.accepted.items()}

    def observe(self, rows: pd.DataFrame) -> list[AcceptedChange]:
        """Feed a cycle's new scored rows (``timestamp, service, signal, anomalous``); returns the runs now due."""
        if rows.empty:
            return []
        ordered = rows.sort_values("timestamp", kind="stable")
        t = as_epoch_seconds(pd.DatetimeIndex(ordered["timestamp"]))
        keys = zip(ordered["service"].to_numpy(), ordered["signal"].to_numpy())
        return self.runs.observe(((str(s), str(g)), ts, bool(f)) for (s, g), ts, f in zip(keys, t, ordered["anomalous"].to_numpy()))

    def _offset(self, raw: FleetModel, frame: pd.DataFrame, key: Key, since: float) -> float:
        if key not in frame.columns:
            return float("nan")
        part = frame.loc[as_epoch_seconds(frame.index) >= since - 1e-6]
        if part.empty:
            return float("nan")
        found = raw.detect(part)
        mine = found[(found["service"] == key[0]) & (found["signal"] == key[1])]
        return level_offset(mine["value"].to_numpy(), mine["expected"].to_numpy())

    def accept(self, due: list[AcceptedChange], raw: FleetModel, frame: pd.DataFrame) -> list[dict[str, Any]]:
        """Accept ``due`` runs: offsets from ``frame`` (which covers each run) against ``raw`` (the fit without offsets).

        Returns one ``/api/anomalies`` entry per accepted change (``"kind": "rebaseline"``);
        a run whose offset cannot be computed (no data) is skipped.
        """
        events = []
        for change in due:
            key: Key = change.key  # type: ignore[assignment]
            offset = self._offset(raw, frame, key, change.since_seconds)
            if not np.isfinite(offset):
                continue
            accepted = Rebaseline(
                service=key[0], signal=key[1], since_seconds=change.since_seconds, accepted_seconds=change.accepted_seconds, offset=offset
            )
            self.accepted[key] = accepted
            self.counts[key] = self.counts.get(key, 0) + 1
            events.append(self.event(accepted))
        return events

    def event(self, change: Rebaseline) -> dict[str, Any]:
        """The ``/api/anomalies`` entry of an accepted change (``onset`` false: it is not a flag)."""
        spec = self.signals.spec(change.signal)
        return {
            "kind": "rebaseline",
            "timestamp_seconds": change.accepted_seconds,
            "timestamp": pd.Timestamp(change.accepted_seconds, unit="s", tz="UTC").isoformat(),
            "service": change.service,
            "signal": change.signal,
            "since_seconds": change.since_seconds,
            "lasted_seconds": change.accepted_seconds - change.since_seconds,
            "rebaseline_after_seconds": self.after_seconds,
            "offset": change.offset,
            "onset": False,
            "explanation": rebaseline_sentence(change, subject=f"{change.service} {spec.label}", unit=spec.unit, after_seconds=self.after_seconds),
        }

    def withdraw_returned(self, rows: pd.DataFrame) -> list[dict[str, Any]]:
        """Withdraw the accepted changes whose series is back near its old baseline; returns one entry each (``"kind": "rebaseline_withdrawn"``).

        ``rows`` are a cycle's scored rows (``timestamp, service, signal, value, expected``)
        from the model with the offsets. A change is gone when, over the rows after it was
        accepted, the median residual against the old baseline (residual + offset) is less than
        half the offset.
        """
        if not self.accepted or rows.empty:
            return []
        t = as_epoch_seconds(pd.DatetimeIndex(rows["timestamp"]))
        events = []
        for key, change in list(self.accepted.items()):
            mine = rows[(rows["service"].to_numpy() == key[0]) & (rows["signal"].to_numpy() == key[1]) & (t > change.accepted_seconds)]
            if len(mine) < 2 or change.offset == 0:
                continue
            old = level_offset(mine["value"].to_numpy(), mine["expected"].to_numpy()) + change.offset
            if has_returned(old, change.offset):
                del self.accepted[key]
                self.runs.forget(key)
                spec = self.signals.spec(key[1])
                at = float(as_epoch_seconds(pd.DatetimeIndex(mine["timestamp"]))[-1])
                events.append(
                    {
                        "kind": "rebaseline_withdrawn",
                        "timestamp_seconds": at,
                        "timestamp": pd.Timestamp(at, unit="s", tz="UTC").isoformat(),
                        "service": key[0],
                        "signal": key[1],
                        "since_seconds": change.since_seconds,
                        "offset": change.offset,
                        "onset": False,
                        "explanation": (
                            f"{key[0]} {spec.label}: back near its old baseline (median residual "
                            f"{format_value(old, spec.unit, signed=True)} against it); the re-baseline of "
                            f"{format_value(change.offset, spec.unit, signed=True)} is withdrawn"
                        ),
                    }
                )
        return events

    def adjust(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` with each accepted offset taken off its series since its change began (what the next fit sees)."""
        if not self.accepted:
            return frame
        out = frame.copy()
        t = as_epoch_seconds(frame.index)
        for key, change in self.accepted.items():
            if key in out.columns:
                rows = t >= change.since_seconds - 1e-6
                out.loc[rows, key] = out.loc[rows, key].to_numpy() - change.offset
        return out

    def refresh(self, raw: FleetModel, frame: pd.DataFrame) -> FleetModel:
        """After a refit on :meth:`adjust`'s frame: the offsets recomputed against ``raw`` on the unadjusted ``frame``, applied."""
        for key, change in list(self.accepted.items()):
            offset = self._offset(raw, frame, key, change.since_seconds)
            if np.isfinite(offset):
                self.accepted[key] = Rebaseline(**{**change.__dict__, "offset": offset})
        offsets = {k: v for k, v in self.offsets.items() if k[1] in raw.services_ and k[0] in raw.services_[k[1]]}
        return raw.with_level_offsets(offsets) if offsets else raw

    def counts_snapshot(self) -> Mapping[Key, int]:
        return dict(self.counts)


def make_rebaseliner(settings: DetectorSettings, signals: SignalSet) -> Rebaseliner | None:
    """The rule for an online detector: None when ``rebaseline_after_seconds`` is 0 or the model is not refitted online.

    A settings object with ``model_source`` other than ``"online"`` (a frozen champion) gets None.
    Gaps between the flags of one change may be up to :data:`model.JOIN_WINDOW_SECONDS` (180 s,
    the correlator's: flags further apart are separate incidents).
    """
    if settings.rebaseline_after_seconds <= 0 or getattr(settings, "model_source", "online") != "online":
        return None
    return Rebaseliner(after_seconds=settings.rebaseline_after_seconds, max_gap_seconds=JOIN_WINDOW_SECONDS, signals=signals)
