"""The frame-level detector: one batched :class:`LinearBaseline` per signal across the fleet.

:class:`FleetModel` takes the kit's wide frame -- a UTC ``DatetimeIndex`` named
``timestamp`` and ``(service, signal)`` columns -- and

- ``fit(frame, incidents=..., flagged=...)`` fits every declared signal of every service,
  leaving out ended incidents and earlier flags (capped, see ``self_cleaning``);
- ``detect(frame)`` returns tidy rows ``timestamp, service, signal, value, expected,
  lower, upper, anomaly_score, anomalous`` (``anomalous`` is the debounced flag);
- ``score(frame)`` returns the raw ``anomaly_score`` as a wide frame;
- ``explain(frame)`` returns the numbers and a sentence for each flagged point;
- ``with_level_offsets({(service, signal): offset})`` returns a copy whose baseline for those
  series is shifted by a constant (the online loop's re-baseline rule, :mod:`model._rebaseline`):
  scoring subtracts it from the value, ``detect`` adds it to ``expected``/``lower``/``upper``,
  and ``explain`` shows it as a ``"re-baseline"`` term, so the parts still add up;
- ``save(path)`` writes the fitted model as readable, versioned JSON and
  ``FleetModel.load(path, signals=...)`` reads it back, scoring exactly as before (the
  layout is in :mod:`model._format`; ``to_dict`` / ``from_dict`` without the file). Loading
  refuses a file of another ``format_version`` or, given ``signals``, one fitted for other
  signals (:class:`ModelFormatError`).

Only the columns declared in the signals file are read: anything else in the frame (for
example incident ground truth) never reaches the model. :class:`FleetDetector` is the
protocol every fleet-level detector follows (this one and the comparison baselines).
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Protocol, Sequence

import numpy as np
import pandas as pd
from sklearn.exceptions import NotFittedError

from . import _format
from ._changes import COMPONENTS, POINT, calibrate_changes, change_scores, change_sentence, combine, run_start, standardise, window_stats
from ._explain import explain_points, format_value, render_sentences
from ._linear import LinearBaseline, as_epoch_seconds, cap_exclusions
from ._scoring import debounce
from ._signals import SignalSet, SignalSpec, load_signals

__all__ = ["REBASELINE_TERM", "Explanation", "FleetDetector", "FleetModel", "neighbourhood"]

#: The change components' thresholds are calibrated on this much of the end of a fit (7 days).
CHANGE_CALIBRATION_SECONDS = 7 * 86400.0

#: The explanation term of a series' level offset (an accepted change, see :meth:`FleetModel.with_level_offsets`).
REBASELINE_TERM = "re-baseline"


class FleetDetector(Protocol):
    """What every fleet-level detector offers: fit on the past, score a frame (``>= 1`` anomalous).

    ``incidents`` are the incident records an ops team had at ``fit_time`` (only ended ones
    count), ``flagged`` the detector's own earlier flags; a detector may use them to clean
    its baseline, or ignore them.
    """

    def fit(
        self, frame: pd.DataFrame, *, incidents: Iterable[Any] = (), flagged: pd.DataFrame | None = None, fit_time: float | None = None
    ) -> "FleetDetector": ...

    def score(self, frame: pd.DataFrame) -> pd.DataFrame: ...


def neighbourhood(edges: Sequence[tuple[str, str]], service: str) -> tuple[str, ...]:
    """``service`` and every service joined to it through the ``(caller, callee)`` edges, up and down."""
    out = [service]
    for direction in (0, 1):
        frontier = [service]
        while frontier:
            s = frontier.pop()
            for edge in edges:
                if edge[1 - direction] == s and edge[direction] not in out:
                    out.append(edge[direction])
                    frontier.append(edge[direction])
    return tuple(out)


@dataclass(frozen=True)
class Explanation:
    """Explanations of flagged points: ``summary`` (one row each), ``terms`` (one row per term), ``sentences``.

    ``summary`` columns: timestamp, service, signal, actual, expected, residual,
    robust_sigma, residual_sigma, anomaly_score (the combined score), baseline, component (which
    component's score it is: ``point``, ``level shift``, ...), sentence. ``terms`` columns:
    point (row of ``summary``), timestamp, service, signal, term, is_context, value,
    contribution. For every point ``baseline + sum(contribution) == expected``.
    """

    summary: pd.DataFrame
    terms: pd.DataFrame = field(repr=False)

    @property
    def sentences(self) -> list[str]:
        return list(self.summary["sentence"])


def _incident_window(record: Any) -> tuple[str, float, float | None]:
    """(service, start, end) in epoch seconds from a tuple or an incident-like object."""
    if isinstance(record, (tuple, list)):
        service, start, end = record
    else:
        service = record.service
        start = getattr(record, "start_seconds", None)
        start = record.start if start is None else start
        end = getattr(record, "end_seconds", None)
        end = getattr(record, "end", None) if end is None else end

    def seconds(v: Any) -> float | None:
        if v is None:
            return None
        if isinstance(v, (int, float, np.integer, np.floating)):
            return float(v)
        return float(as_epoch_seconds(pd.DatetimeIndex([pd.Timestamp(v)]))[0])

    return str(service), float(seconds(start)), seconds(end)  # type: ignore[arg-type]


class FleetModel:
    """One batched linear baseline per declared signal, over every service of a wide frame.

    Parameters
    ----------
    signals : the :class:`SignalSet` (default: :func:`load_signals`).
    dependencies : the fleet's dependency graph as ``(caller, callee)`` edges. An ended
        incident is left out of the baselines of its service and of every service joined to
        it through the graph, up and down (an outage shows in its callers' errors, a surge
        in its callees' load). Without edges, its own service only.
    """

    def __init__(self, signals: SignalSet | None = None, *, dependencies: Sequence[tuple[str, str]] = ()) -> None:
        self.signals = signals
        self.dependencies = dependencies

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _check_frame(frame: pd.DataFrame) -> None:
        if not isinstance(frame.index, pd.DatetimeIndex) or frame.index.tz is None:
            raise ValueError("frame needs a tz-aware DatetimeIndex (UTC)")
        if not isinstance(frame.columns, pd.MultiIndex) or frame.columns.nlevels != 2:
            raise ValueError("frame needs (service, signal) MultiIndex columns")

    def _signal_set(self) -> SignalSet:
        return self.signals if self.signals is not None else load_signals()

    @staticmethod
    def _arrays(frame: pd.DataFrame, services: Sequence[str], spec: SignalSpec) -> tuple[np.ndarray, np.ndarray]:
        """``y`` (T, S) and ``context`` (T, S, C), both series-major (no copies in the model)."""
        T = len(frame.index)
        cols = pd.MultiIndex.from_tuples([(s, spec.name) for s in services])
        y = np.empty((len(services), T))
        y[:] = frame.reindex(columns=cols).to_numpy(dtype=np.float64).T
        ctx = np.empty((len(spec.context), len(services), T))
        for j, c in enumerate(spec.context):
            ccols = pd.MultiIndex.from_tuples([(s, c) for s in services])
            ctx[j] = frame.reindex(columns=ccols).to_numpy(dtype=np.float64).T
        return y.T, ctx.T

    def _model(self, spec: SignalSpec, sigset: SignalSet) -> LinearBaseline:
        return LinearBaseline(
            daily_order=spec.daily_order,
            weekly_order=spec.weekly_order,
            trend=spec.trend,
            context_names=spec.context,
            ridge=spec.ridge,
            direction=spec.direction,
            min_deviation=spec.min_deviation,
            z_floor=spec.z_floor,
            calibration_quantile=spec.calibration_quantile,
            calibration_factor=spec.calibration_factor,
            max_excluded_share=sigset.max_excluded_share,
            dtype=sigset.dtype,
        )

    def _incident_mask(self, frame: pd.DataFrame, services: Sequence[str], incidents: Iterable[Any], fit_time: float, margin: float) -> np.ndarray:
        t = as_epoch_seconds(frame.index)
        mask = np.zeros((len(t), len(services)), dtype=bool)
        position = {s: i for i, s in enumerate(services)}
        for record in incidents:
            service, start, end = _incident_window(record)
            if end is None or end > fit_time:  # still running at fit time: an ops team would not know its end
                continue
            affected = neighbourhood(self.dependencies, service)
            rows = (t >= start) & (t < end + margin)
            for s in affected:
                if s in position:
                    mask[rows, position[s]] = True
        return mask

    @staticmethod
    def _wide_mask(mask: pd.DataFrame | None, frame: pd.DataFrame, services: Sequence[str], signal: str) -> np.ndarray | None:
        if mask is None:
            return None
        cols = pd.MultiIndex.from_tuples([(s, signal) for s in services])
        return mask.reindex(index=frame.index, columns=cols, fill_value=False).to_numpy(dtype=bool)

    # ------------------------------------------------------------------ changes
    @staticmethod
    def _change_window(sigset: SignalSet, index: pd.DatetimeIndex) -> tuple[str, int]:
        """The change window as a pandas time span, and the rows it must hold (80 % of what the frame's step fits in it)."""
        seconds = float(sigset.change_window_seconds)
        step = float(np.median(np.diff(as_epoch_seconds(index)))) if len(index) > 1 else seconds
        return f"{int(round(seconds * 1000))}ms", max(2, int(0.8 * seconds / max(step, 1e-9)))

    def _calibrate_changes(self, model: LinearBaseline, sigset: SignalSet, index: pd.DatetimeIndex, y, ctx, excluded) -> dict[str, np.ndarray]:
        """Per-series thresholds of the change components from the fit's own residuals (left-out points skipped).

        Over the last :data:`CHANGE_CALIBRATION_SECONDS` of the fit (7 days: every weekday once,
        at half the cost of the rolling windows over a 14-day fit).
        """
        settings = sigset.change_settings()
        t = as_epoch_seconds(index)
        keep = t >= t[-1] - CHANGE_CALIBRATION_SECONDS
        index, y, ctx, excluded = index[keep], y[keep], ctx[keep], excluded[keep]
        residual = np.asarray(y, dtype=np.float64) - np.asarray(model.predict(index, ctx), dtype=np.float64)
        residual[excluded] = np.nan
        window, rows = self._change_window(sigset, index)
        z = standardise(residual, window_stats(residual, window, rows, index), model.scale_, settings.enabled())
        return calibrate_changes(z, None, settings)

    def _change_thresholds(self, name: str) -> dict[str, np.ndarray] | None:
        """Signal ``name``'s change thresholds (component -> per series); None when it has none."""
        return (getattr(self, "change_thresholds_", None) or {}).get(name)

    def _changes(self, name: str, index: pd.DatetimeIndex, residual: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]] | None:
        """``(z, scores)`` of the change components of signal ``name`` over a frame's residuals; None when they are off."""
        thresholds = self._change_thresholds(name)
        components = self.signal_set_.change_settings().enabled()
        if not thresholds or not components:
            return None
        components = tuple(c for c in components if c in thresholds)
        model = self.models_[name]
        window, rows = self._change_window(self.signal_set_, index)
        r = np.asarray(residual, dtype=np.float64)
        z = standardise(r, window_stats(r, window, rows, index), model.scale_, components)
        scores = change_scores(z, thresholds, sigma=model.scale_, direction=model.direction, min_deviation=model.min_deviation)
        return z, scores

    # ---------------------------------------------------------------------- fit
    def fit(
        self,
        frame: pd.DataFrame,
        *,
        incidents: Iterable[Any] = (),
        flagged: pd.DataFrame | None = None,
        exclude: pd.DataFrame | None = None,
        fit_time: pd.Timestamp | float | None = None,
    ) -> "FleetModel":
        """Fit every declared signal on ``frame``; returns ``self``.

        ``incidents``: records ``(service, start, end)`` (or objects with ``service`` and
        ``start_seconds``/``end_seconds``); those that had ended by ``fit_time`` (default: the
        frame's last timestamp) are left out, plus ``incident_margin_seconds``.
        ``flagged`` / ``exclude``: wide bool frames of points to leave out (earlier flags,
        anything else). Priority incidents > flagged > exclude under the per-series cap.
        """
        self._check_frame(frame)
        sigset = self._signal_set()
        t_fit = float(as_epoch_seconds(frame.index)[-1]) if fit_time is None else (
            float(fit_time) if isinstance(fit_time, (int, float)) else float(as_epoch_seconds(pd.DatetimeIndex([pd.Timestamp(fit_time)]))[0])
        )
        incidents = list(incidents)
        present = set(frame.columns)
        services_all = list(dict.fromkeys(frame.columns.get_level_values(0)))
        self.models_: dict[str, LinearBaseline] = {}
        self.services_: dict[str, tuple[str, ...]] = {}
        self.change_thresholds_: dict[str, dict[str, np.ndarray]] = {}
        for spec in sigset.signals:
            services = tuple(s for s in services_all if (s, spec.name) in present)
            if not services:
                continue
            y, ctx = self._arrays(frame, services, spec)
            masks = [self._incident_mask(frame, services, incidents, t_fit, sigset.incident_margin_seconds)]
            for extra in (flagged, exclude):
                m = self._wide_mask(extra, frame, services, spec.name)
                if m is not None:
                    masks.append(m)
            usable = np.isfinite(y) & np.isfinite(ctx).all(axis=2)
            excluded = cap_exclusions(masks, sigset.max_excluded_share, usable)
            model = self._model(spec, sigset).fit(frame.index, y, ctx, exclude=excluded if excluded.any() else None)
            self.models_[spec.name] = model
            self.services_[spec.name] = services
            if sigset.change_settings().enabled():
                self.change_thresholds_[spec.name] = self._calibrate_changes(model, sigset, frame.index, y, ctx, excluded)
        if not self.models_:
            raise ValueError(f"frame has none of the declared signals {sigset.names()}")
        self.signal_set_ = sigset
        self.fit_time_ = pd.Timestamp(t_fit, unit="s", tz="UTC")
        self.level_offsets_: dict[tuple[str, str], float] = {}
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "models_"):
            raise NotFittedError("this FleetModel is not fitted yet; call fit(frame) first")

    # ------------------------------------------------------------ level offsets
    def with_level_offsets(self, offsets: Mapping[tuple[str, str], float]) -> "FleetModel":
        """A copy of this fitted model whose baseline of each ``(service, signal)`` in ``offsets`` is shifted by that much.

        The offset is in the signal's unit (what the re-baseline rule accepted as the new
        normal, :func:`model._rebaseline.level_offset`). It replaces any offsets this model
        had; ``{}`` removes them. The fitted baselines are shared, not copied. Raises
        ``ValueError`` naming a series this model does not score, or a non-finite offset.
        """
        self._check_fitted()
        clean: dict[tuple[str, str], float] = {}
        for (service, signal), value in offsets.items():
            if signal not in self.services_ or service not in self.services_[signal]:
                raise ValueError(f"level offset for ({service!r}, {signal!r}): not a series this model scores")
            if not np.isfinite(value):
                raise ValueError(f"level offset for ({service!r}, {signal!r}) must be a finite number, not {value!r}")
            clean[(str(service), str(signal))] = float(value)
        other = copy.copy(self)
        other.level_offsets_ = clean
        return other

    def _offsets(self, name: str, services: Sequence[str]) -> np.ndarray | None:
        """The level offset of each service's ``name`` series, shape ``(S,)``; None when there is none."""
        found = getattr(self, "level_offsets_", None) or {}
        if not any(k[1] == name for k in found):
            return None
        return np.asarray([found.get((s, name), 0.0) for s in services], dtype=np.float64)

    # ------------------------------------------------------------- save / load
    def to_dict(self) -> dict[str, Any]:
        """The fitted model as plain JSON data (the layout :meth:`save` writes, see :mod:`model._format`).

        A model with level offsets also holds ``"level_offsets"``: a list of ``{"service",
        "signal", "offset": {"value", "unit"}}``.
        """
        self._check_fitted()
        data = _format.to_dict(
            signal_set=self.signal_set_,
            dependencies=self.dependencies,
            models=self.models_,
            services=self.services_,
            fit_time=self.fit_time_,
            change_thresholds=getattr(self, "change_thresholds_", None) or {},
        )
        offsets = getattr(self, "level_offsets_", None) or {}
        if offsets:
            units = {s.name: s.unit for s in self.signal_set_.signals}
            data["level_offsets"] = [
                {"service": service, "signal": signal, "offset": {"value": value, "unit": units.get(signal, "")}}
                for (service, signal), value in sorted(offsets.items())
            ]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, signals: SignalSet | None = None) -> "FleetModel":
        """A fitted model from :meth:`to_dict`'s data; ``signals``: the signal set it must have been fitted for."""
        return cls._from_saved(_format.from_dict(data, signals=signals))

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the fitted model to ``path`` as indented, versioned JSON; returns the path.

        Raises :class:`sklearn.exceptions.NotFittedError` before ``fit``.
        """
        return _format.save(self.to_dict(), path)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, signals: SignalSet | None = None) -> "FleetModel":
        """Read a model :meth:`save` wrote; it scores exactly as the saved one did.

        Raises :class:`ModelFormatError` for a file that is not a saved model, of another
        ``format_version``, or -- given ``signals`` -- fitted for other signals.
        """
        return cls._from_saved(_format.load(path, signals=signals))

    @classmethod
    def _from_saved(cls, saved: "_format.SavedFleet") -> "FleetModel":
        model = cls(saved.signal_set, dependencies=saved.dependencies)
        model.models_ = dict(saved.models)
        model.services_ = dict(saved.services)
        model.signal_set_ = saved.signal_set
        model.fit_time_ = saved.fit_time
        model.change_thresholds_ = {k: dict(v) for k, v in saved.change_thresholds.items()}
        model.level_offsets_ = {}
        return model.with_level_offsets(saved.level_offsets) if saved.level_offsets else model

    # -------------------------------------------------------------------- score
    def score(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Raw ``anomaly_score`` (``>= 1`` anomalous) as a wide frame over the modelled columns."""
        self._check_fitted()
        self._check_frame(frame)
        parts = []
        for name, model in self.models_.items():
            services = self.services_[name]
            y, ctx = self._arrays(frame, services, self.signal_set_.spec(name))
            off = self._offsets(name, services)
            yy = y if off is None else y - off
            s = np.asarray(model.decision_function(frame.index, yy, ctx), dtype=np.float64)
            if self._change_thresholds(name):  # else no residuals needed (they cost a predict)
                found = self._changes(name, frame.index, yy - np.asarray(model.predict(frame.index, ctx), dtype=np.float64))
                if found is not None:
                    s = combine(s, found[1])[0]
            parts.append(pd.DataFrame(np.asarray(s, dtype=np.float64), index=frame.index, columns=pd.MultiIndex.from_tuples([(sv, name) for sv in services], names=["service", "signal"])))
        return pd.concat(parts, axis=1)

    def detect(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Tidy results, one row per (timestamp, service, signal).

        Columns: timestamp, service, signal, value, expected, lower, upper, anomaly_score
        (the largest of the point score and the change components' scores), anomalous (at
        least ``debounce_k`` of the last ``debounce_m`` scores >= 1; the first rows of
        ``frame`` see a shorter window), component (whose score ``anomaly_score`` is:
        ``point``, ``level shift``, ``noise change``, ``spike``; ``""`` where it is 0 or NaN).
        The band is the point score's. Bounds on a side the signal's direction ignores are
        infinite. The change components read windows of ``change_window_seconds`` of this
        frame's residuals: its first rows (without a full window) get the point score only.
        """
        self._check_fitted()
        self._check_frame(frame)
        sigset = self.signal_set_
        out = []
        for name, model in self.models_.items():
            services = self.services_[name]
            y, ctx = self._arrays(frame, services, sigset.spec(name))
            off = self._offsets(name, services)
            found = model.detect(frame.index, y if off is None else y - off, ctx)
            shift = 0.0 if off is None else off[None, :]
            score = np.asarray(found.anomaly_score, dtype=np.float64)
            which = np.zeros(score.shape, dtype=np.int8)
            changes = self._changes(name, frame.index, np.asarray(found.residual, dtype=np.float64))
            if changes is not None:
                score, which = combine(score, changes[1])
            component = np.where(np.isfinite(score) & (score > 0), np.asarray(COMPONENTS, dtype=object)[which], "")
            flags = debounce(np.nan_to_num(score, nan=0.0) >= 1.0, sigset.debounce_k, sigset.debounce_m)
            T, S = y.shape
            out.append(
                pd.DataFrame(
                    {
                        "timestamp": frame.index.repeat(S),
                        "service": np.tile(np.asarray(services, dtype=object), T),
                        "signal": name,
                        "value": np.ascontiguousarray(y).reshape(-1),
                        "expected": np.ascontiguousarray(np.asarray(found.expected, dtype=np.float64) + shift).reshape(-1),
                        "lower": np.ascontiguousarray(np.asarray(found.lower, dtype=np.float64) + shift).reshape(-1),
                        "upper": np.ascontiguousarray(np.asarray(found.upper, dtype=np.float64) + shift).reshape(-1),
                        "anomaly_score": np.ascontiguousarray(score).reshape(-1),
                        "anomalous": np.ascontiguousarray(flags).reshape(-1),
                        "component": np.ascontiguousarray(component).reshape(-1),
                    }
                )
            )
        result = pd.concat(out, ignore_index=True)
        return result.sort_values(["timestamp", "service", "signal"], kind="stable", ignore_index=True)

    def flags(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The debounced flags as a wide bool frame (what ``fit(flagged=...)`` takes next time)."""
        score = self.score(frame)
        sigset = self.signal_set_
        f = debounce(np.nan_to_num(score.to_numpy(), nan=0.0) >= 1.0, sigset.debounce_k, sigset.debounce_m)
        return pd.DataFrame(f, index=score.index, columns=score.columns)

    # ------------------------------------------------------------------ explain
    def explain(self, frame: pd.DataFrame, points: pd.DataFrame | None = None) -> Explanation:
        """Numbers and one sentence for each point of ``points`` (default: every flagged point).

        ``points`` is a wide bool frame (like :meth:`flags`) marking what to explain.
        """
        self._check_fitted()
        self._check_frame(frame)
        sigset = self.signal_set_
        marks = self.flags(frame) if points is None else points
        labels = {s.name: s.label for s in sigset.signals}
        units = {s.name: s.unit for s in sigset.signals}
        summaries, term_frames = [], []
        offset = 0
        for name, model in self.models_.items():
            services = self.services_[name]
            wanted = self._wide_mask(marks, frame, services, name)
            if wanted is None or not wanted.any():
                continue
            rows, cols = np.nonzero(wanted)
            y, ctx = self._arrays(frame, services, sigset.spec(name))
            off = self._offsets(name, services)
            summary, terms = explain_points(
                model, frame.index, y if off is None else y - off, ctx, list(zip(rows, cols)), index=frame.index, series=services
            )
            if off is not None:
                summary, terms = _with_offset_term(summary, terms, off[cols])
            summary = summary.rename(columns={"time": "timestamp", "series": "service"})
            summary.insert(2, "signal", name)
            subjects = [f"{svc} {labels[name]}" for svc in summary["service"]]
            sentences = render_sentences(
                summary, terms, subjects=subjects, units=[units[name]] * len(summary), term_labels=labels, term_units=units
            )
            summary["component"] = POINT
            yy = y if off is None else y - off
            changes = self._changes(name, frame.index, yy - np.asarray(model.predict(frame.index, ctx), dtype=np.float64))
            if changes is not None:
                z, scores = changes
                point = summary["anomaly_score"].to_numpy(dtype=np.float64)
                combined, which = combine(point[:, None], {c: v[rows, cols][:, None] for c, v in scores.items()})
                summary["anomaly_score"] = combined[:, 0]
                summary["component"] = np.asarray(COMPONENTS, dtype=object)[which[:, 0]]
            t_all = as_epoch_seconds(frame.index)
            for i, component in enumerate(summary["component"]):
                score_i = float(summary["anomaly_score"].iat[i])
                if component == POINT:
                    sentences[i] = f"{sentences[i]}; component {POINT}, score {score_i:.2f}"
                    continue
                row, col = rows[i], cols[i]
                first = run_start(scores[component][:, col], row)  # this run of the component's flags (in this frame): the change began a window before it
                start = int(np.searchsorted(t_all, t_all[first] - self.signal_set_.change_window_seconds, side="right"))
                unit = units[name]
                sentences[i] = f"{sentences[i]}; " + change_sentence(
                    component,
                    z=float(z[component][row, col]),
                    threshold=float(self.change_thresholds_[name][component][col]),
                    score=score_i,
                    sigma=float(model.scale_[col]),
                    expected=float(summary["expected"].iat[i]),
                    since=f"{frame.index[min(start, first)]:%H:%M}Z",
                    window=self.signal_set_.change_window_seconds,
                    fmt=lambda v, signed=False, unit=unit: format_value(float(v), unit, signed=signed),
                )
            summary["sentence"] = sentences
            at = terms["point"].to_numpy()
            terms.insert(1, "timestamp", summary["timestamp"].to_numpy()[at])
            terms.insert(2, "service", summary["service"].to_numpy()[at])
            terms.insert(3, "signal", name)
            terms["point"] += offset
            offset += len(summary)
            summaries.append(summary)
            term_frames.append(terms)
        if not summaries:
            cols = ["timestamp", "service", "signal", "actual", "expected", "residual", "robust_sigma", "residual_sigma", "anomaly_score", "baseline", "component", "sentence"]
            return Explanation(pd.DataFrame(columns=cols), pd.DataFrame(columns=["point", "timestamp", "service", "signal", "term", "is_context", "value", "contribution"]))
        return Explanation(pd.concat(summaries, ignore_index=True), pd.concat(term_frames, ignore_index=True))


def _with_offset_term(summary: pd.DataFrame, terms: pd.DataFrame, offsets: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Put each point's level offset back: the actual and expected values move up by it, and it becomes a term of its own.

    ``summary``/``terms`` were computed on the value minus the offset, so the residual and
    the score are already right; ``baseline + sum(contribution) == expected`` still holds.
    """
    summary = summary.copy()
    summary["actual"] = summary["actual"].to_numpy() + offsets
    summary["expected"] = summary["expected"].to_numpy() + offsets
    has = np.flatnonzero(offsets != 0)
    if not len(has):
        return summary, terms
    extra = pd.DataFrame(
        {"point": has, "term": REBASELINE_TERM, "is_context": False, "value": np.nan, "contribution": offsets[has]}
    )
    terms = pd.concat([terms, extra], ignore_index=True).sort_values("point", kind="stable", ignore_index=True)
    return summary, terms
