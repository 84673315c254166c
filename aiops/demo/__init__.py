"""``aiops demo``: the whole kit on one machine, started and stopped with one command.

- :mod:`aiops.demo._settings` -- :class:`DemoSettings` (options over ``AIOPS_DEMO_*`` over defaults);
- :mod:`aiops.demo._run` -- :class:`Demo`: the run (history, child processes from
  :mod:`aiops.stack`, the scenario, the scoreboard saved at the end);
- :mod:`aiops.demo._watch` -- the live view and the detector's watcher;
- :mod:`aiops.demo._screen` -- where the view goes: redrawn in place in a terminal, events only when piped.
"""

from ._run import DETECTOR_MIN_HISTORY_SECONDS, TAIL_LEAD_SECONDS, TAIL_SECONDS, Demo, graph_link
from ._settings import DEFAULT_SCENARIO, DemoSettings
from ._watch import SCENARIO_WAIT_SECONDS, VIEW_WINDOW_SECONDS, DetectorWatch, watch

__all__ = [
    "DEFAULT_SCENARIO",
    "DETECTOR_MIN_HISTORY_SECONDS",
    "SCENARIO_WAIT_SECONDS",
    "TAIL_LEAD_SECONDS",
    "TAIL_SECONDS",
    "VIEW_WINDOW_SECONDS",
    "Demo",
    "DemoSettings",
    "DetectorWatch",
    "graph_link",
    "watch",
]
