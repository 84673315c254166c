"""The detector's model: batched interpretable linear baselines, calibrated scores, explanations.

No I/O (except saving and loading a fitted model) and no clock: everything here takes its
data and its time as arguments. The detector service (the AIOps loop), the evaluation and
the training pipeline all use it.

Public surface:

- :class:`LinearBaseline` -- scikit-learn-style estimator over many series at once:
  ``fit(times, y (T, S), context (T, S, C), exclude=...)``, ``predict``,
  ``decision_function`` (anomaly_score, ``>= 1`` anomalous), ``detect`` (expected, band,
  score), ``decompose`` (each term's contribution);
- scoring functions: :func:`robust_scale`, :func:`calibrate_threshold`,
  :func:`anomaly_score`, :func:`bands`, :func:`debounce`;
- :func:`cap_exclusions` -- the capped union of exclusion masks the self-cleaning fit uses;
- :class:`FleetModel` -- the frame-level detector: one batched baseline per signal declared
  in ``signals.yaml`` (:func:`load_signals` -> :class:`SignalSet`), ``fit`` / ``detect`` /
  ``score`` / ``flags`` / ``explain`` on the wide ``(service, signal)`` frame; ``save(path)`` /
  ``FleetModel.load(path, signals=...)`` keep a fitted model as readable, versioned JSON
  (format ``"aiops-fleet-model"``, :data:`MODEL_FORMAT_VERSION`, see :mod:`model._format`);
- change components beside the point score (:mod:`model._changes`: level shift, noise change,
  spike on a window of residuals; the largest score wins and the flag names it, one of
  :data:`SCORE_COMPONENTS`), used by ``FleetModel`` (``changes`` in ``signals.yaml``) and the
  streaming ``linear`` detector alike;
- explanations: :func:`explain_points`, :func:`render_sentence`, :func:`format_value`;
- the re-baseline rule of the online loop: :class:`FlagRuns` (runs of flags per series, due
  after a horizon), :func:`level_offset` (median residual since the change began), :func:`has_returned`,
  :class:`AcceptedChange`; ``FleetModel.with_level_offsets`` applies them (term
  :data:`REBASELINE_TERM` in explanations);
- correlation: :class:`Correlator` groups anomalies into detected incidents (:class:`DetectedIncident`);
- comparison baselines: :class:`StaticThreshold`, :class:`RollingZScore`; streaming
  detectors for single series (:func:`make_streaming_detector`).
- :func:`provenance` (the kit's version and git commit a saved model records) and
  :func:`signals_sha256`; :data:`MIN_DAILY_HISTORY_SECONDS` / :data:`MIN_WEEKLY_HISTORY_SECONDS`,
  the history the seasonal terms need (the training pipeline's validation reads them).

Errors::

    ValueError
     ├── SignalsError       signals.yaml is malformed
     └── ModelFormatError   a saved model of another format version or other signals
                            (or not a saved model at all)
    sklearn.exceptions.NotFittedError   scoring (or saving) before fit
"""

from ._baselines import RollingZScore, StaticThreshold
from ._changes import COMPONENTS as SCORE_COMPONENTS
from ._correlate import CLOSE_AFTER_SECONDS, JOIN_WINDOW_SECONDS, Anomaly, Correlator, DetectedIncident
from ._explain import explain_points, format_value, render_sentence, render_sentences
from ._features import MIN_DAILY_HISTORY_SECONDS, MIN_WEEKLY_HISTORY_SECONDS
from ._linear import Decomposition, Detection, LinearBaseline, as_epoch_seconds, cap_exclusions
from ._scoring import DIRECTIONS, anomaly_score, bands, calibrate_threshold, debounce, robust_scale
from ._fleet import REBASELINE_TERM, Explanation, FleetDetector, FleetModel, neighbourhood
from ._rebaseline import AcceptedChange, FlagRuns, has_returned, level_offset
from ._format import FORMAT_VERSION as MODEL_FORMAT_VERSION
from ._format import ModelFormatError, provenance, signals_sha256
from ._signals import SIGNALS_PATH, SignalSet, SignalSpec, SignalsError, load_signals, parse_signals
from ._streaming import StreamingDetector, StreamResult
from ._streaming import make_detector as make_streaming_detector

__all__ = [
    "CLOSE_AFTER_SECONDS",
    "JOIN_WINDOW_SECONDS",
    "MIN_DAILY_HISTORY_SECONDS",
    "MIN_WEEKLY_HISTORY_SECONDS",
    "MODEL_FORMAT_VERSION",
    "DIRECTIONS",
    "REBASELINE_TERM",
    "SCORE_COMPONENTS",
    "SIGNALS_PATH",
    "AcceptedChange",
    "Anomaly",
    "Correlator",
    "Decomposition",
    "DetectedIncident",
    "Detection",
    "Explanation",
    "FleetDetector",
    "FleetModel",
    "FlagRuns",
    "LinearBaseline",
    "ModelFormatError",
    "RollingZScore",
    "SignalSet",
    "SignalSpec",
    "SignalsError",
    "StaticThreshold",
    "StreamResult",
    "StreamingDetector",
    "anomaly_score",
    "as_epoch_seconds",
    "bands",
    "calibrate_threshold",
    "cap_exclusions",
    "debounce",
    "explain_points",
    "format_value",
    "has_returned",
    "level_offset",
    "load_signals",
    "neighbourhood",
    "make_streaming_detector",
    "parse_signals",
    "provenance",
    "render_sentence",
    "render_sentences",
    "robust_scale",
    "signals_sha256",
]
