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

import importlib
from typing import Any

# Loaded on first use (PEP 562), so `aiops --help` and the services do not pay for
# scikit-learn at import time.
_LAZY = {
    "DIRECTIONS": "_scoring",
    "Decomposition": "_model",
    "Detection": "_model",
    "Explanation": "_signals",
    "FleetModel": "_signals",
    "LinearBaseline": "_model",
    "SIGNALS_PATH": "_signals",
    "SignalSet": "_signals",
    "SignalSpec": "_signals",
    "SignalsError": "_signals",
    "anomaly_score": "_scoring",
    "as_epoch_seconds": "_model",
    "bands": "_scoring",
    "calibrate_threshold": "_scoring",
    "cap_exclusions": "_model",
    "debounce": "_scoring",
    "explain_points": "_explain",
    "format_value": "_explain",
    "load_signals": "_signals",
    "parse_signals": "_signals",
    "render_sentence": "_explain",
    "render_sentences": "_explain",
    "robust_scale": "_scoring",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'detector' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


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
