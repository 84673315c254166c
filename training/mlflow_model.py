"""The fleet model as an MLflow pyfunc, logged as *models from code*: this file is the model's code.

``aiops train`` logs this file with ``mlflow.pyfunc.log_model(python_model=<this file>,
artifacts={"fleet_model": <the saved JSON>})``. MLflow copies it into the model's artifacts
and, when the model is loaded (``mlflow.pyfunc.load_model("models:/aiops-fleet@champion")``),
runs it: :class:`FleetPyfunc` then reads the weights from the readable JSON with
:meth:`model.FleetModel.load`. Nothing is pickled.

``predict`` takes the kit's wide frame -- a UTC ``DatetimeIndex`` and ``(service, signal)``
columns, or flat ``"service/signal"`` columns (what JSON can carry) with the times in the
index or a ``timestamp`` column -- and returns the anomaly scores (``>= 1`` anomalous) in the
same column layout.

The module-level :func:`mlflow.models.set_model` call is what the models-from-code protocol
asks of this file; nothing else in the kit imports it.
"""

from __future__ import annotations

from typing import Any

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel, PythonModelContext

from model import FleetModel

__all__ = ["ARTIFACT_KEY", "FleetPyfunc"]

#: The key of the saved JSON in the model's ``artifacts``.
ARTIFACT_KEY = "fleet_model"
#: Separator of the flat column names (``checkout/latency``).
FLAT_SEPARATOR = "/"


def _wide(frame: pd.DataFrame) -> tuple[pd.DataFrame, bool]:
    """The model's wide frame from ``frame``, and whether the input had flat column names."""
    out = frame.set_index("timestamp") if "timestamp" in frame.columns else frame
    if not isinstance(out.index, pd.DatetimeIndex):
        out = out.set_axis(pd.DatetimeIndex(pd.to_datetime(out.index, utc=True), name="timestamp"), axis=0)
    elif out.index.tz is None:
        out = out.tz_localize("UTC")
    if isinstance(out.columns, pd.MultiIndex):
        return out, False
    pairs = []
    for c in out.columns:
        service, sep, signal = str(c).partition(FLAT_SEPARATOR)
        if not sep:
            raise ValueError(f"column {c!r}: expected (service, signal) columns or 'service{FLAT_SEPARATOR}signal' names")
        pairs.append((service, signal))
    return out.set_axis(pd.MultiIndex.from_tuples(pairs, names=["service", "signal"]), axis=1), True


class FleetPyfunc(PythonModel):
    """A fitted :class:`model.FleetModel` behind MLflow's pyfunc interface."""

    def load_context(self, context: PythonModelContext) -> None:
        """Read the weights: the saved JSON artifact, through :meth:`model.FleetModel.load`."""
        self.model = FleetModel.load(context.artifacts[ARTIFACT_KEY])

    def predict(self, context: PythonModelContext, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        """Anomaly scores (``>= 1`` anomalous) of ``model_input``, a wide frame, in its column layout."""
        wide, flat = _wide(model_input)
        scores = self.model.score(wide)
        if flat:
            scores = scores.set_axis([f"{s}{FLAT_SEPARATOR}{g}" for s, g in scores.columns], axis=1)
        return scores


mlflow.models.set_model(FleetPyfunc())
