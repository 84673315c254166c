"""One evaluation for the whole kit: the offline suite, NAB, the benchmark and the live scoreboard share its rules.

It uses the detector's model (:mod:`model`) and the simulator, never the live service, so
``aiops evaluate``, the demo's scoreboard and the training gate match detections to
incidents the same way (:mod:`evaluation._matching`).

- the labelled fleet suite: :func:`make_suite` (:class:`SuiteSettings`, :class:`Suite`),
  computed as Prometheus computes the signals' PromQL (the emulator: :func:`fleet_frame`,
  :class:`SimulatedSource`);
- the runner: :func:`evaluate_suite`, :func:`run_detector`, :func:`make_detector`
  (:data:`DETECTOR_NAMES`), :class:`EvaluationSettings`;
- grouping and matching: :func:`group_flags`, :func:`match`, :func:`summarize`, with
  :data:`JOIN_WINDOW_SECONDS`, :data:`CLOSE_AFTER_SECONDS`, :data:`GRACE_SECONDS`;
- the live scoreboard: :class:`Scoreboard`, :class:`Score`;
- NAB: :func:`evaluate_nab` (reading files as they come, :mod:`evaluation._nab_read`; running and
  scoring, :mod:`evaluation._nab_score`); :func:`write_quirky_copies` (synthetic quirky copies of
  NAB files, :mod:`evaluation._nab_quirks`); :func:`select_and_evaluate_nab` (settings chosen by
  cross-validation over files, :mod:`evaluation._nab_cv`: :data:`NAB_GRID`, :data:`NAB_FOLDS`);
- the benchmark: :func:`run_bench` (:class:`BenchSettings`).

Errors::

    ValueError
     └── NabInputError    a NAB file or the windows file cannot be read
"""

from ._bench import BenchSettings, run_bench
from ._matching import CLOSE_AFTER_SECONDS, GRACE_SECONDS, JOIN_WINDOW_SECONDS, Flag, FlagGroup, Matching, group_flags, match, summarize
from ._nab import OWN_THRESHOLD, NabInputError, evaluate_nab
from ._nab_cv import FOLDS as NAB_FOLDS
from ._nab_cv import GRID as NAB_GRID
from ._nab_cv import default_jobs as nab_default_jobs
from ._nab_cv import select_and_evaluate as select_and_evaluate_nab
from ._nab_quirks import write_quirky_copies
from ._nab_read import EVERY_RANGE_SECONDS as NAB_EVERY_RANGE_SECONDS
from ._promql import OfflineSettings, SimulatedSource, fleet_frame, ground_truth_frame
from ._runner import DETECTOR_NAMES, EvaluationSettings, evaluate_suite, make_detector, run_detector
from ._scoreboard import Score, Scoreboard
from ._suite import Suite, SuiteSettings, make_suite

__all__ = [
    "CLOSE_AFTER_SECONDS",
    "DETECTOR_NAMES",
    "GRACE_SECONDS",
    "JOIN_WINDOW_SECONDS",
    "NAB_EVERY_RANGE_SECONDS",
    "NAB_FOLDS",
    "NAB_GRID",
    "OWN_THRESHOLD",
    "BenchSettings",
    "EvaluationSettings",
    "Flag",
    "FlagGroup",
    "Matching",
    "NabInputError",
    "OfflineSettings",
    "Score",
    "Scoreboard",
    "SimulatedSource",
    "Suite",
    "SuiteSettings",
    "evaluate_nab",
    "evaluate_suite",
    "fleet_frame",
    "ground_truth_frame",
    "group_flags",
    "make_detector",
    "make_suite",
    "match",
    "nab_default_jobs",
    "run_bench",
    "select_and_evaluate_nab",
    "summarize",
    "write_quirky_copies",
]
