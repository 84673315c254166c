"""``aiops dashboards``: generate the dashboards' JSON, push them to a Grafana, render them to PNG without one.

- ``generate [--check]``: write ``dashboards/json/*.json`` and Grafana's provisioning files
  (``monitoring/grafana/provisioning/``) from the code; ``--check`` only compares;
- ``push --grafana-url URL [--prometheus-url URL]``: the folder, the datasource and every
  dashboard into a running Grafana (idempotent); credentials from ``AIOPS_GRAFANA_TOKEN`` or
  ``AIOPS_GRAFANA_USER`` + ``AIOPS_GRAFANA_PASSWORD`` only, never from an option;
- ``render --prometheus-url URL --out DIR``: every dashboard drawn to ``DIR/<uid>.png``.

Start-up: like every module in :mod:`aiops.commands`, this one imports only the standard
library and light :mod:`plumbing` modules at its top; the handlers import the SDK,
grafana-client and matplotlib when they run.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from plumbing.durations import duration_arg
from plumbing.errors import UsageError

__all__ = ["register"]


def _cmd_generate(args: argparse.Namespace) -> int:
    from dashboards import generated_files, write_generated

    files = generated_files()
    changed = write_generated(files, check=args.check)
    if args.check:
        if changed:
            names = ", ".join(str(f.path) for f in changed)
            raise UsageError(f"out of date with the code: {names}; run `aiops dashboards generate`")
        print(f"{len(files)} generated files are up to date (dashboards/json, monitoring/grafana/provisioning)")
        return 0
    for f in changed:
        print(f"{'removed' if not f.text else 'wrote'} {f.path}")
    print(f"{len(changed)} of {len(files)} files changed" if changed else f"all {len(files)} files were up to date")
    return 0


def _grafana_settings(url: str | None) -> Any:
    from plumbing.grafana import GrafanaSettings

    try:
        return GrafanaSettings.from_env(url=url)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _cmd_push(args: argparse.Namespace) -> int:
    from dashboards import PushError, dashboards, push

    grafana = _grafana_settings(args.grafana_url)
    if not grafana.url:
        raise UsageError("no Grafana: give --grafana-url URL (or set AIOPS_GRAFANA_URL)")
    prometheus_url = args.prometheus_url or _prometheus_url()
    try:
        report = push(
            grafana.url,
            credential=grafana.credential,
            prometheus_url=prometheus_url,
            dashboards=dashboards(),
            timeout_seconds=grafana.timeout_seconds,
        )
    except PushError as exc:
        raise UsageError(str(exc)) from None
    for line in report.lines:
        print(f"  {line}")
    if report.changed:
        print(f"pushed to Grafana {report.grafana_version} at {grafana.url}: {report.changed} change(s)")
    else:
        print(f"Grafana {report.grafana_version} at {grafana.url} already has all of it: nothing changed")
    return 0


def _prometheus_url() -> str:
    """``$AIOPS_PROMETHEUS_URL``, else the detector's default: the one setting for Prometheus' address."""
    from detector import DetectorSettings
    from plumbing.settings import read_env

    try:
        return str(read_env(DetectorSettings, names=["prometheus_url"]).get("prometheus_url") or DetectorSettings().prometheus_url)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _cmd_render(args: argparse.Namespace) -> int:
    from dashboards import dashboards, render
    from sources import PrometheusError

    wanted = dashboards()
    if args.dashboard:
        unknown = sorted(set(args.dashboard) - set(wanted))
        if unknown:
            raise UsageError(f"--dashboard: no dashboard {', '.join(unknown)} (uids: {', '.join(wanted)})")
        wanted = {uid: d for uid, d in wanted.items() if uid in args.dashboard}
    prometheus_url = args.prometheus_url or _prometheus_url()
    try:
        done = render(
            prometheus_url,
            Path(args.out),
            dashboards=wanted,
            range_seconds=args.range,
            variables={k: v for k, v in (("service", args.service), ("model", args.model), ("signal", args.signal)) if v},
        )
    except PrometheusError as exc:
        raise UsageError(str(exc)) from None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    for r in done:
        blank = [p.title for p in r.panels if p.drawn == 0]
        note = f"; no data in: {', '.join(blank)}" if blank else ""
        print(f"wrote {r.path} ({len(r.panels)} panels{note})")
    return 0


def register(subparsers: Any) -> None:
    """Add ``aiops dashboards`` to the ``aiops`` parser."""
    p = subparsers.add_parser(
        "dashboards",
        help="Grafana dashboards as code: generate the JSON, push to a Grafana, render to PNG without one",
        description="The kit's Grafana dashboards (fleet overview, anomaly explorer, workshop scoreboard, detector "
        "health, AIOps vs MLOps), written with Grafana's SDK in dashboards/.",
    )
    sub = p.add_subparsers(dest="dashboards_command", metavar="ACTION")
    sub.required = True

    g = sub.add_parser("generate", help="write dashboards/json/*.json and monitoring/grafana/provisioning/ from the code")
    g.add_argument("--check", action="store_true", help="only check that the files are up to date (exit 2 if not)")
    g.set_defaults(func=_cmd_generate)

    pu = sub.add_parser(
        "push",
        help="create or update the folder, the Prometheus datasource and every dashboard in a running Grafana",
        description="Push the dashboards into Grafana through its HTTP API (grafana-client). Idempotent: a second push "
        "changes nothing and says so. Credentials come from the environment only: AIOPS_GRAFANA_TOKEN (a "
        "service-account token), or AIOPS_GRAFANA_USER and AIOPS_GRAFANA_PASSWORD.",
    )
    pu.add_argument("--grafana-url", help="Grafana's URL, e.g. http://127.0.0.1:3000 (default: $AIOPS_GRAFANA_URL)")
    pu.add_argument(
        "--prometheus-url",
        help="the URL Grafana reaches Prometheus at, for the datasource (default: $AIOPS_PROMETHEUS_URL, else http://127.0.0.1:9090)",
    )
    pu.set_defaults(func=_cmd_push)

    r = sub.add_parser(
        "render",
        help="draw every dashboard's panels to PNG from Prometheus, without Grafana",
        description="Run every panel's queries on Prometheus and draw the dashboards with matplotlib, one PNG per "
        "dashboard (DIR/<uid>.png), panels in their grid positions.",
    )
    r.add_argument("--prometheus-url", help="Prometheus to query (default: $AIOPS_PROMETHEUS_URL, else http://127.0.0.1:9090)")
    r.add_argument("--out", required=True, metavar="DIR", help="where to write the PNGs")
    r.add_argument("--range", type=duration_arg, metavar="DURATION", help="time range ending now, e.g. 15m (default: each dashboard's own)")
    r.add_argument("--service", help="the service variable (default: All where allowed, else the first service)")
    r.add_argument("--model", choices=("online", "champion"), help="the model variable: whose detector series to draw (default: online)")
    r.add_argument("--signal", help="the signal variable of the AIOps-vs-MLOps dashboard (default: the first signal)")
    r.add_argument("--dashboard", action="append", metavar="UID", help="only this dashboard (repeatable; default: all)")
    r.set_defaults(func=_cmd_render)
