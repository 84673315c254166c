"""The detector: batched interpretable linear baselines, calibrated scores, explanations.

Public surface (model core):

- :class:`LinearBaseline` -- scikit-learn-style estimator over many series at once:
  ``fit(times, y (T, S), context (T, S, C), exclude=...)``, ``predict``,
  ``decision_function`` (anomaly_score, ``>= 1`` anomalous), ``detect`` (expected, band,
  score), ``decompose`` (each term's contribution);
- scoring functions: :func:`robust_scale`, :func:`calibrate_threshold`,
  :func:`anomaly_score`, :func:`bands`, :func:`debounce`;
- :func:`cap_exclusions` -- the capped union of exclusion masks the self-cleaning fit uses;
- :class:`FleetModel` -- the frame-level detector: one batched baseline per signal declared
  in ``signals.yaml`` (:func:`load_signals` -> :class:`SignalSet`), ``fit`` / ``detect`` /
  ``score`` / ``flags`` / ``explain`` on the wide ``(service, signal)`` frame;
- explanations: :func:`explain_points`, :func:`render_sentence`, :func:`format_value`.

Errors::

    ValueError
     └── SignalsError     signals.yaml is malformed
    sklearn.exceptions.NotFittedError   scoring before fit
"""

from ._explain import explain_points, format_value, render_sentence, render_sentences
from ._model import Decomposition, Detection, LinearBaseline, as_epoch_seconds, cap_exclusions
from ._scoring import DIRECTIONS, anomaly_score, bands, calibrate_threshold, debounce, robust_scale
from ._signals import SIGNALS_PATH, Explanation, FleetModel, SignalSet, SignalSpec, SignalsError, load_signals, parse_signals

__all__ = [
    "DIRECTIONS",
    "SIGNALS_PATH",
    "Decomposition",
    "Detection",
    "Explanation",
    "FleetModel",
    "LinearBaseline",
    "SignalSet",
    "SignalSpec",
    "SignalsError",
    "anomaly_score",
    "as_epoch_seconds",
    "bands",
    "calibrate_threshold",
    "cap_exclusions",
    "debounce",
    "explain_points",
    "format_value",
    "load_signals",
    "parse_signals",
    "render_sentence",
    "render_sentences",
    "robust_scale",
]
