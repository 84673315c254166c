"""The kit's plumbing: the floor every other package stands on. It imports nothing of the kit.

Modules (import the one you need; this package re-exports nothing, so importing a
light module never pulls in a heavy one):

- :mod:`plumbing.errors`     -- :class:`~plumbing.errors.UsageError` and the error tree;
- :mod:`plumbing.durations`  -- one duration grammar (``90``, ``90s``, ``6m30s``, ``500ms``,
  ``1.5h``, ``2d``, ``1w``): :func:`parse_duration`, :func:`format_duration`, :func:`duration_arg`;
- :mod:`plumbing.settings`   -- one settings scheme: a frozen dataclass with a prefix, read
  from options over environment over defaults, and the README table generated from it;
- :mod:`plumbing.serving`    -- port binding, the loopback check, URLs, serving an ASGI app
  in the foreground or a background thread, one JSON error shape for a FastAPI app's own errors;
- :mod:`plumbing.guard`      -- the request guard every service shares: body size and time,
  Host, bearer token (constant-time) and JSON content type of every write;
- :mod:`plumbing.monitoring` -- the facts the parts share about Prometheus: where the
  ``monitoring/`` configs are, the scrape interval, the job names, rendering the configs;
- :mod:`plumbing.procs`      -- child processes: spawn, wait until ready, stop in order;
- :mod:`plumbing.binaries`   -- the real ``prometheus``, ``promtool`` and Alertmanager binaries;
- :mod:`plumbing.grafana`    -- Grafana's settings (``AIOPS_GRAFANA_*``, credentials from the
  environment only) and the annotation poster the collector and the detector share.
"""
