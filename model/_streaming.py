"""Streaming univariate detectors for NAB-style series (no lookahead).

A streaming detector turns one series into a score per row where the score of row ``i``
depends on rows ``<= i`` only, and anything fitted that it uses was fitted on rows ``< i``.
Scores follow the kit's convention: ``s >= 0``, ``s >= 1`` means anomalous.

- :class:`StreamingZScore` (``zscore``): the PromQL recording-rule way, a rolling mean and
  standard deviation over the previous hour of rows (12 rows at NAB's 5-minute step; at least 12 rows at any step),
  ``|z| > 3`` scores above 1.
- :class:`StreamingLinear` (``linear``): the kit's interpretable linear baseline
  (:class:`model._linear.LinearBaseline`, the same model class as the fleet detector)
  refitted every half day on the past only, with the change components of
  :mod:`model._changes` beside its point score (the noise change on by default, the level shift
  off: the defaults are the configuration cross-validation chose, :mod:`evaluation._nab_cv`);
  each fit's targets clipped at 50 robust σ of their median and around the fit before
  (``clip_around_last_fit``, on by a pre-registered test on ten fold assignments, not the grid).

Both share the same alert grouping: after a flag (score >= 1) the rows of the next
:data:`COOLDOWN_SECONDS` (one day) score 0, since the anomaly is already raised (NAB's own
CAD OSE detector has the same kind of rest period); and a row scoring under 1 keeps its score
only if it is higher than every score (as computed, before any rest period) of the day before
it, so that under whatever threshold NAB's sweep cuts the scores at, the first row over it
silences the following day's rows that do not rise above it. Configuration is fixed at construction,
one for every file, and never looks at labels.

Every span is a time (``*_seconds``), turned into rows per series by its usual step
(:func:`usual_step_seconds`, the median time between rows): one day is 288 rows of a
5-minute series and 24 of an hourly one, so the same settings mean the same on both. Where a
statistic needs a few rows whatever the step, a floor in rows says so (``min_window_rows``,
``min_level_rows``, ``min_change_window_rows``, ``min_fit_rows``): on an hourly series the
one-hour change window reads 6 rows, not 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from ._changes import COMPONENTS, POINT, ChangeSettings, calibrate_changes, change_scores, change_sentence, combine, run_start, standardise, window_stats
from ._linear import LinearBaseline

__all__ = [
    "COOLDOWN_SECONDS",
    "DAY_SECONDS",
    "DETECTOR_NAMES",
    "MAX_SCORE",
    "StreamingLinear",
    "StreamResult",
    "StreamingDetector",
    "StreamingZScore",
    "make_detector",
    "usual_step_seconds",
]

DAY_SECONDS = 86_400.0
HOUR_SECONDS = 3_600.0

#: After a flag the rows of this span score 0 (the alert is already raised), and a row under 1 must rise above its scores: one day.
COOLDOWN_SECONDS = DAY_SECONDS

#: The step assumed for a series with fewer than two distinct times (NAB's 5 minutes).
DEFAULT_STEP_SECONDS = 300.0

#: Scores are capped here so that ``s / (1 + s)`` stays a finite number below 1 in float64.
MAX_SCORE = 1e6


@dataclass(frozen=True)
class StreamResult:
    """One series scored row by row.

    ``score``: (N,) anomaly score, ``>= 0``, ``>= 1`` anomalous. ``expected``, ``lower``,
    ``upper``: (N,) the value the detector expected and the band where its point score reaches 1
    (NaN where it had no model yet); ``None`` when the detector has no such notion.
    ``component``: (N,) the component whose score is the row's score (``"point"``, ``"level
    shift"``, ...; ``""`` where nothing scored); ``explanations``: row -> a sentence from the
    component's own numbers, for every row that scores ``>= 1``.
    """

    score: np.ndarray
    expected: np.ndarray | None = None
    lower: np.ndarray | None = None
    upper: np.ndarray | None = None
    component: np.ndarray | None = None
    explanations: dict[int, str] | None = None


class StreamingDetector(Protocol):
    """Scores one series with no lookahead."""

    name: str

    def run(self, times_seconds: npt.ArrayLike, values: npt.ArrayLike) -> StreamResult:
        """Score every row of one series; row ``i`` may use rows ``<= i`` only."""
        ...


@dataclass(frozen=True, kw_only=True)
class StreamingZScore:
    """Rolling z-score of one streaming series against the rows of its previous ``window_seconds`` (one hour: 12 rows at NAB's 5-minute step).

    The single-series, row-counted form for NAB; :class:`model.RollingZScore` is the fleet-level
    form over a time window (PromQL's ``avg_over_time``/``stddev_over_time``) for the fleet suite.

    ``score = |x_i - mean| / (z_threshold * std)`` with mean and population standard deviation
    over the ``k`` rows before row ``i`` (the window in rows at the series' usual step, at least
    ``min_window_rows``: a standard deviation needs rows); rows without a full window score 0. A flat window
    (std 0) uses a tiny floor, so any change from a flat line scores high. After a flag the
    rows of the next ``cooldown_seconds`` score 0, and a row under 1 keeps its score only if it
    is higher than every score (as computed, before any rest period) of the ``cooldown_seconds``
    before it (:func:`_cool_down`); ``cooldown_seconds=0`` turns both off.
    """

    window_seconds: float = HOUR_SECONDS
    min_window_rows: int = 12
    z_threshold: float = 3.0
    cooldown_seconds: float = COOLDOWN_SECONDS
    name: str = "zscore"

    def run(self, times_seconds: npt.ArrayLike, values: npt.ArrayLike) -> StreamResult:
        x = np.asarray(values, dtype=float)
        step = usual_step_seconds(times_seconds)
        n, k = x.size, max(as_rows(self.window_seconds, step), self.min_window_rows)
        score = np.zeros(n)
        expected = np.full(n, np.nan)
        spread = np.full(n, np.nan)
        if n > k:
            past = sliding_window_view(x, k)[:-1]  # past[j] = x[j : j + k], used for row j + k
            mean = past.mean(axis=1)
            std = past.std(axis=1)
            floor = 1e-9 * np.maximum(1.0, np.abs(mean))
            z = np.abs(x[k:] - mean) / np.maximum(std, floor)
            score[k:] = np.minimum(np.nan_to_num(z / self.z_threshold, nan=0.0, posinf=MAX_SCORE), MAX_SCORE)  # 1e308 neighbours: inf - inf
            expected[k:] = mean
            spread[k:] = self.z_threshold * std
        if self.cooldown_seconds:
            score = _cool_down(score, as_rows(self.cooldown_seconds, step))
        return StreamResult(score=score, expected=expected, lower=expected - spread, upper=expected + spread)


@dataclass(frozen=True, kw_only=True)
class StreamingLinear:
    """The kit's linear baseline run as a stream, refitted on the past every ``refit_every_seconds``, with change components.

    ``expected[i] = level[i] + LinearBaseline.predict(t_i)`` where ``level[i]`` is the median
    of the values of the ``level_seconds`` before row ``i`` (half a day; fewer at the start, at
    least ``min_level_rows`` or the whole window if it is shorter) and the :class:`~model._linear.LinearBaseline` models the deviation
    from that level with its daily and weekly Fourier terms (each used only once the fitted
    span is long enough: the model's own rule), an optional trend and ``lags`` AR terms on
    past deviations. The model's robust (MAD) scale and per-series tail calibration give the
    point score: ``|residual| / (scale * threshold)``.

    Rows are scored in blocks of ``refit_every_seconds`` by a model fitted on the rows before the
    block (at most ``max_history_seconds`` of them; the first fit waits for ``min_history_seconds``
    and at least ``min_fit_rows`` rows), so row
    ``i``'s score comes from a model fitted on rows ``< i``. A fit clips its targets at
    ``fit_clip_sigmas`` robust σ from their median (one glitch of 1e9 would otherwise bend the
    Fourier terms and inflate the robust scale of every later fit that sees it). With
    ``clip_around_last_fit`` (on), from the second fit on the targets are also clipped at
    ``fit_clip_sigmas`` σ of the fit before around its prediction, which holds a glitch on a
    strongly seasonal series too (the median's spread is then the daily swing, far too loose). With
    ``self_cleaning``, rows already flagged are left out of later fits (capped by the model).

    **Change components** (:mod:`model._changes`) read the residuals of the last
    ``change_window_seconds`` (at least ``min_change_window_rows``: a median and a spread need a
    few residuals; all scored by earlier fits): ``level_shift`` (their median),
    ``noise_change`` (their spread against the model's σ) and ``spike`` (a residual against the
    window before it). Each block's thresholds are calibrated on the past rows' statistics
    (``max(floor, calibration_factor × change_quantile)``; ``level_floor``, ``noise_floor``,
    ``spike_floor``) once ``min_change_history_seconds`` of them exist; before that the components
    score 0. The row's score is the largest component score; ``StreamResult.component`` names it.
    After a flag the rows of the next ``cooldown_seconds`` score 0, and a row under 1 keeps its
    score only if it is higher than every score (as computed, before any rest period) of the
    ``cooldown_seconds`` before it (:func:`_cool_down`, for NAB's threshold sweep);
    ``cooldown_seconds=0`` turns both off. Every span is turned into rows by the
    series' usual step (:meth:`rows`).
    """

    min_history_seconds: float = 2 * DAY_SECONDS
    min_fit_rows: int = 24
    refit_every_seconds: float = 0.5 * DAY_SECONDS
    max_history_seconds: float = 28 * DAY_SECONDS
    level_seconds: float = 0.5 * DAY_SECONDS
    min_level_rows: int = 12
    lags: int = 0
    daily_order: int = 4
    weekly_order: int = 3
    trend: bool = False
    z_floor: float = 5.0
    calibration_quantile: float = 0.999
    calibration_factor: float = 1.25
    self_cleaning: bool = False
    fit_clip_sigmas: float = 50.0
    clip_around_last_fit: bool = True
    level_shift: bool = False
    noise_change: bool = True
    spike: bool = False
    change_window_seconds: float = HOUR_SECONDS
    min_change_window_rows: int = 6
    level_floor: float = 4.0
    noise_floor: float = 2.0
    spike_floor: float = 6.0
    change_quantile: float = 0.999
    min_change_history_seconds: float = 2 * DAY_SECONDS
    cooldown_seconds: float = COOLDOWN_SECONDS
    name: str = "linear"

    def rows(self, times_seconds: npt.ArrayLike) -> "SpanRows":
        """This detector's spans in rows of the series at ``times_seconds`` (its usual step)."""
        step = usual_step_seconds(times_seconds)
        return SpanRows(
            step_seconds=step,
            min_history=max(as_rows(self.min_history_seconds, step), self.min_fit_rows),
            refit_every=as_rows(self.refit_every_seconds, step),
            max_history=as_rows(self.max_history_seconds, step),
            level=as_rows(self.level_seconds, step),
            change_window=max(as_rows(self.change_window_seconds, step), self.min_change_window_rows),
            min_change_history=as_rows(self.min_change_history_seconds, step),
            cooldown=as_rows(self.cooldown_seconds, step) if self.cooldown_seconds else 0,
        )

    def _model(self):
        return LinearBaseline(
            daily_order=self.daily_order,
            weekly_order=self.weekly_order,
            trend=self.trend,
            context_names=tuple(f"deviation {k} rows before" for k in range(1, self.lags + 1)),
            z_floor=self.z_floor,
            calibration_quantile=self.calibration_quantile,
            calibration_factor=self.calibration_factor,
            dtype="float64",
        )

    def change_settings(self) -> ChangeSettings:
        """The change components' settings (:class:`model._changes.ChangeSettings`) this detector uses."""
        return ChangeSettings(
            level_shift=self.level_shift,
            noise_change=self.noise_change,
            spike=self.spike,
            level_floor=self.level_floor,
            noise_floor=self.noise_floor,
            spike_floor=self.spike_floor,
            calibration_quantile=self.change_quantile,
            calibration_factor=self.calibration_factor,
        )

    def _clipped(self, target: np.ndarray) -> np.ndarray:
        """``target`` (T, 1) for a fit: values beyond ``fit_clip_sigmas`` robust σ of its median clipped there (NaN stays NaN).

        One glitch (1e9 in a series of hundreds) otherwise bends every Fourier coefficient of
        every fit that sees it, and the residuals of the whole window with them, so the robust
        scale grows and hides real spikes for weeks. Clipping keeps the row (the calibration
        still sees a large value there) but bounds its pull on the coefficients.
        """
        finite = np.isfinite(target)
        ok = target[finite]
        if ok.size < 3 or not np.isfinite(self.fit_clip_sigmas):
            return np.where(finite, target, np.nan)
        centre = np.median(ok)
        dev = np.abs(ok - centre)
        scale = 1.4826 * np.median(dev)
        if not scale > 0:
            scale = 1.2533 * dev.mean()
        if not (np.isfinite(scale) and scale > 0):
            return np.where(finite, target, np.nan)
        bound = self.fit_clip_sigmas * scale
        # a value of +-inf (1e308 minus a level of -1e308) is clipped like any other
        return np.clip(np.where(np.isnan(target), np.nan, target), centre - bound, centre + bound)

    def _clipped_to_fit(self, model: LinearBaseline, t: np.ndarray, target: np.ndarray, context: np.ndarray) -> np.ndarray:
        """``target`` clipped at ``fit_clip_sigmas`` of ``model``'s robust σ around its prediction (the fit before).

        The median clip alone is loose on a seasonal series (its spread is the daily swing, many
        residual σ), so one glitch still bent the fits. NaN stays; so does a row whose prediction
        falls outside the range of the targets given (with ``lags``, a glitch as its lag input
        would make the prediction huge and clip the row up to it; the lag input itself is not
        clipped by either rule).
        """
        bound = self.fit_clip_sigmas * float(model.scale_[0])
        if not (np.isfinite(bound) and bound > 0) or not np.isfinite(target).any():
            return target
        with np.errstate(over="ignore", invalid="ignore"):
            expected = model.predict(t, context)
            usable = np.isfinite(expected) & (expected >= np.nanmin(target)) & (expected <= np.nanmax(target))
            return np.where(usable, np.clip(target, expected - bound, expected + bound), target)

    def _recalibrate(
        self, model: LinearBaseline, t: np.ndarray, target: np.ndarray, fit_target: np.ndarray, context: np.ndarray, flagged: np.ndarray
    ) -> None:
        """Robust scale and threshold of a model fitted on clipped targets (``fit_target``), from the residuals of the targets as they were.

        The clipped coefficients stay; the scale (MAD) and the tail calibration see every value,
        so clipping changes nothing but the pull of the extreme rows on the fit. The scale's
        floor is the fit's own, from the clipped targets: from the targets as they were, one
        value of 1e308 would make it about 1e298 and blind every fit that sees it.
        """
        residual = (target - model.predict(t, context))[:, 0]
        valid = np.isfinite(residual)
        if self.self_cleaning:
            valid &= ~flagged[:, 0]
        if valid.sum() < 2:
            return
        # the fit's own calibration (the same subsample and order statistics), on the unclipped residuals
        with np.errstate(over="ignore"):
            centre = float(np.mean(fit_target[:, 0][valid]))  # overflows only where the clip gave up (a window mostly huge)
        model.recalibrate(residual[:, None], valid[:, None], floor=1e-6 * ((abs(centre) if np.isfinite(centre) else 0.0) + 1e-12))

    def run(self, times_seconds: npt.ArrayLike, values: npt.ArrayLike) -> StreamResult:
        t = np.asarray(times_seconds, dtype=float)
        x = np.asarray(values, dtype=float)
        rows = self.rows(t)
        n, h = x.size, rows.level
        with np.errstate(over="ignore", invalid="ignore"):
            level = _recent_median(x, h, min(self.min_level_rows, h))
            target = (x - level)[:, None]
        context = np.full((n, 1, self.lags), np.nan)
        for k in range(1, self.lags + 1):
            context[k:, 0, k - 1] = target[:-k, 0]
        point = np.zeros(n)
        expected, lower, upper = (np.full(n, np.nan) for _ in range(3))
        residual, sigma, threshold = (np.full(n, np.nan) for _ in range(3))
        flagged = np.zeros((n, 1), dtype=bool)
        known = min(self.min_level_rows, h) + self.lags  # first row with a target and its context
        blocks, previous = [], None
        for start in range(known + rows.min_history, n, rows.refit_every):
            # Rows whose level saw a full window fit better; use only them once there are enough.
            settled = rows.level + self.lags if start - rows.level - self.lags >= rows.min_history else known
            lo, stop = max(settled, start - rows.max_history), min(n, start + rows.refit_every)
            fit_target = self._clipped(target[lo:start])
            if previous is not None and self.clip_around_last_fit:
                fit_target = self._clipped_to_fit(previous, t[lo:start], fit_target, context[lo:start])
            if np.isfinite(fit_target).sum() < 2:
                continue
            with np.errstate(over="ignore", invalid="ignore"):
                model = self._model().fit(
                    t[lo:start], fit_target, context[lo:start], exclude=flagged[lo:start] if self.self_cleaning else None
                )
                if np.any(fit_target != target[lo:start]):  # clipped: scale and calibration from the values as they were
                    self._recalibrate(model, t[lo:start], target[lo:start], fit_target, context[lo:start], flagged[lo:start])
                found = model.detect(t[start:stop], target[start:stop], context[start:stop])
            point[start:stop] = np.minimum(np.nan_to_num(found.anomaly_score[:, 0], nan=0.0, posinf=MAX_SCORE), MAX_SCORE)
            expected[start:stop] = level[start:stop] + found.expected[:, 0]
            lower[start:stop] = level[start:stop] + found.lower[:, 0]
            upper[start:stop] = level[start:stop] + found.upper[:, 0]
            residual[start:stop] = found.residual[:, 0]
            sigma[start:stop] = model.scale_[0]
            threshold[start:stop] = model.threshold_[0]
            flagged[start:stop, 0] = point[start:stop] >= 1.0
            blocks.append((start, stop))
            previous = model
        score, which, changes = self._with_changes(point, residual, sigma, blocks, rows)
        if rows.cooldown:
            score = _cool_down(score, rows.cooldown)
        component = np.where(score > 0, np.asarray(COMPONENTS, dtype=object)[which], "")
        explanations = {
            int(i): self._sentence(int(i), component[i], t, x, expected, residual, sigma, threshold, score, changes, rows)
            for i in np.flatnonzero(score >= 1.0)
        }
        return StreamResult(score=score, expected=expected, lower=lower, upper=upper, component=component, explanations=explanations)

    def _with_changes(self, point: np.ndarray, residual: np.ndarray, sigma: np.ndarray, blocks: list[tuple[int, int]], rows: "SpanRows"):
        """The point score combined with the change components: ``(score, component index, (z, thresholds, scores))``."""
        settings = self.change_settings()
        components = settings.enabled()
        if not components or not blocks:
            return point, np.zeros(point.shape, dtype=np.int8), None
        w = rows.change_window
        # each residual in the robust sigmas of the fit that scored it (a window may span two fits)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            unit = residual / sigma
        stats = window_stats(unit, w, w)
        z = {c: v[:, 0] for c, v in standardise(unit, stats, np.ones(1), components).items()}
        thresholds = {c: np.full(point.shape, np.inf) for c in components}
        first = blocks[0][0]
        for start, stop in blocks:
            past = slice(max(first, start - rows.max_history), start)
            have = np.isfinite(z[components[0]][past]).sum()
            if have < rows.min_change_history:
                continue
            found = calibrate_changes({c: z[c][past][:, None] for c in components}, None, settings)
            for c in components:
                thresholds[c][start:stop] = found[c][0]
        scores = change_scores(z, thresholds, sigma=sigma, direction="both")
        combined, which = combine(point, scores)
        return np.minimum(combined, MAX_SCORE), which, (z, thresholds, scores)

    def _sentence(self, i, component, t, x, expected, residual, sigma, threshold, score, changes, rows) -> str:
        """Row ``i``'s flag in words, from its component's own numbers."""
        when = lambda s: pd.Timestamp(s, unit="s", tz="UTC").strftime("%Y-%m-%d %H:%M")  # noqa: E731
        if component == POINT or changes is None:
            return (
                f"value {x[i]:.4g} vs {expected[i]:.4g} expected; residual {residual[i] / sigma[i]:+.1f} robust σ "
                f"(threshold {threshold[i]:.1f}); component {POINT}, score {score[i]:.2f}"
            )
        z, thresholds, scores = changes
        first = run_start(scores[component], i)  # the first row of this run of the component's flags: the change began a window before it
        since = when(t[max(0, first - rows.change_window + 1)])
        return f"value {x[i]:.4g} vs {expected[i]:.4g} expected: " + change_sentence(
            component, z=float(z[component][i]), threshold=float(thresholds[component][i]), score=float(score[i]),
            sigma=float(sigma[i]), expected=float(expected[i]), since=since, window=rows.change_window,
            fmt=lambda v, signed=False: f"{v:+.4g}" if signed else f"{v:.4g}",
        )


@dataclass(frozen=True)
class SpanRows:
    """A streaming detector's spans in rows of one series (:meth:`StreamingLinear.rows`)."""

    step_seconds: float
    min_history: int
    refit_every: int
    max_history: int
    level: int
    change_window: int
    min_change_history: int
    cooldown: int


def usual_step_seconds(times_seconds: npt.ArrayLike) -> float:
    """The series' usual step: the median of its positive time differences (:data:`DEFAULT_STEP_SECONDS` with none).

    The median, so that gaps, duplicate timestamps and a timestamp going back (real data's
    quirks) do not move it.
    """
    t = np.asarray(times_seconds, dtype=float)
    d = np.diff(t[np.isfinite(t)])
    d = d[d > 0]
    return float(np.median(d)) if d.size else DEFAULT_STEP_SECONDS


def as_rows(seconds: float, step_seconds: float) -> int:
    """A span in rows at ``step_seconds`` (rounded half up, at least 1)."""
    if not (np.isfinite(seconds) and seconds > 0):
        raise ValueError(f"a span must be a positive number of seconds, got {seconds!r}")
    return max(1, int(np.floor(seconds / step_seconds + 0.5)))


def _recent_median(x: np.ndarray, rows: int, min_rows: int) -> np.ndarray:
    """Median of the ``rows`` values before each row (fewer at the start, NaN under ``min_rows``)."""
    median = pd.Series(x).rolling(rows, min_periods=min_rows).median().to_numpy()
    return np.concatenate(([np.nan], median[:-1]))  # shift by one: row i sees rows i-rows .. i-1


def _cool_down(score: np.ndarray, rows: int) -> np.ndarray:
    """The rest period at every threshold: what is left of ``score`` after it.

    A flag (score >= 1) not itself silenced zeroes the ``rows`` rows after it; a row scoring
    under 1 keeps its score only if it is higher than every score (as given) of the ``rows``
    rows before it. So whatever threshold the scores are cut at, the first row over it silences
    the following rows that do not rise above it; at 1 the second rule changes nothing.
    """
    out = score.copy()
    quiet_until = -1
    for i in np.flatnonzero(score >= 1.0):
        if i <= quiet_until:
            out[i] = 0.0
            continue
        out[i + 1 : i + 1 + rows] = 0.0
        quiet_until = i + rows
    before = pd.Series(score).rolling(rows, min_periods=1).max().shift(1).to_numpy()  # max of the rows rows before each
    out[(score < 1.0) & (score <= before)] = 0.0  # NaN before row 0: kept
    return out


DETECTOR_NAMES: tuple[str, ...] = ("linear", "zscore")


def make_detector(name: str) -> StreamingDetector:
    """The detector called ``name`` with the one configuration used for the whole corpus."""
    if name == "zscore":
        return StreamingZScore()
    if name == "linear":
        return StreamingLinear()
    raise ValueError(f"unknown detector {name!r}; choose one of {', '.join(DETECTOR_NAMES)}")
