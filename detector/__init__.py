"""The detector service: the AIOps loop. It fits and scores the model on a schedule and serves the results.

- :class:`DetectorSettings` (``from_env()``): everything ``aiops detect`` can be told;
- :class:`DetectorService`: two APScheduler jobs (fit, infer) over a
  :class:`sources.HistorySource`, with correlation, health and the snapshot it serves;
- :func:`create_app`: the FastAPI app (``/metrics``, ``/api/anomalies``,
  ``/api/incidents/detected``, ``/api/scoreboard``, ``/healthz``); :class:`DetectorCollector`
  builds the metrics (the scoreboard's among them, :class:`ScoreboardOutput`);
- :class:`Rebaseliner` / :func:`make_rebaseliner`: the online loop's re-baseline rule (a change
  flagged longer than ``rebaseline_after_seconds`` becomes the new normal; None for a frozen model);
- :class:`DetectorClient`: the HTTP client of a running detector (the demo, the console).
"""

from ._app import create_app
from ._client import DetectorClient, DetectorUnreachable
from ._exposition import DetectorCollector, DetectorSnapshot, ScoreboardOutput, SeriesOutput
from ._service import DetectorService, build_service, in_shard
from ._rebaseline import Rebaseline, Rebaseliner, make_rebaseliner
from ._settings import DetectorSettings

__all__ = [
    "DetectorClient",
    "DetectorCollector",
    "DetectorService",
    "DetectorSettings",
    "DetectorSnapshot",
    "DetectorUnreachable",
    "Rebaseline",
    "Rebaseliner",
    "ScoreboardOutput",
    "SeriesOutput",
    "build_service",
    "create_app",
    "in_shard",
    "make_rebaseliner",
]
