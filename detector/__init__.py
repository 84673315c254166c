"""The detector: batched interpretable linear baselines, calibrated scores, explanations.

Public surface (model core):

- :class:`LinearBaseline` -- scikit-learn-style estimator over many series at once:
  ``fit(times, y (T, S), context (T, S, C), exclude=...)``, ``predict``,
  ``decision_function`` (anomaly_score, ``>= 1`` anomalous), ``detect`` (expected, band,
  score), ``decompose`` (each term's contribution);
- scoring functions: :func:`robust_scale`, :func:`calibrate_threshold`,
  :func:`anomaly_score`, :func:`bands`, :func:`debounce`;
- :func:`cap_exclusions` -- the capped union of exclusion masks the self-cleaning fit uses.
"""

from ._model import Decomposition, Detection, LinearBaseline, as_epoch_seconds, cap_exclusions
from ._scoring import DIRECTIONS, anomaly_score, bands, calibrate_threshold, debounce, robust_scale

__all__ = [
    "DIRECTIONS",
    "Decomposition",
    "Detection",
    "LinearBaseline",
    "anomaly_score",
    "as_epoch_seconds",
    "bands",
    "calibrate_threshold",
    "cap_exclusions",
    "debounce",
    "robust_scale",
]
