"""``aiops console``: the trainee console, a web page over the collector, the detector and Prometheus.

- :mod:`aiops.console._settings` -- :class:`ConsoleSettings` (options over ``AIOPS_CONSOLE_*`` over defaults);
- :mod:`aiops.console._app` -- :func:`create_app`: the page (``static/``, plain HTML, CSS and JS,
  no build step) and the JSON API it polls, over :class:`collector.CollectorClient`,
  :class:`detector.DetectorClient` and :class:`sources.PrometheusReader`.

Nothing imports it but the command and the demo: it sits on the top floor.
"""

from ._app import STATIC_DIR, create_app, grafana_links, scoreboard_rows
from ._settings import ConsoleSettings

__all__ = ["STATIC_DIR", "ConsoleSettings", "create_app", "grafana_links", "scoreboard_rows"]
