"""``aiops responder``: Alertmanager's webhook receiver."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from plumbing.durations import duration_arg
from plumbing.errors import UsageError

__all__ = ["register"]


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser(
        "responder",
        help="receive Alertmanager's webhooks; record alerts, remediate where the runbook allows",
        description="Records every alert Alertmanager sends to /alertmanager. With --remediate, asks the collector "
        "to take the runbook's automatic actions (restart, scale_out) on the probable-cause service. "
        "Options override the AIOPS_RESPONDER_* environment variables (see the README).",
    )
    p.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port of /alertmanager (default 8002)")
    p.add_argument(
        "--collector-url",
        help="the collector the actions go to (default: $AIOPS_COLLECTOR_URL, else http://$AIOPS_COLLECTOR_HOST:$AIOPS_COLLECTOR_PORT)",
    )
    p.add_argument("--log", type=Path, help="where alerts are recorded, JSON lines (default .aiops/alerts.jsonl)")
    p.add_argument(
        "--remediate", action=argparse.BooleanOptionalAction, default=None,
        help="take automatic runbook actions (off by default)",
    )  # fmt: skip
    p.add_argument("--timeout", type=duration_arg, metavar="DURATION", help="timeout of each action request to the collector (default 5s)")
    p.set_defaults(func=run)


def build_settings(args: argparse.Namespace) -> Any:
    """The :class:`responder.ResponderSettings` of the options over the environment over the defaults."""
    from responder import ResponderSettings

    try:
        return ResponderSettings.from_env(
            host=args.host,
            port=args.port,
            collector_url=args.collector_url,
            log_path=args.log,
            remediate=args.remediate,
            timeout_seconds=args.timeout,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    from plumbing.serving import PortInUse, bind, is_loopback, serve_forever
    from responder import Responder, create_app

    settings = build_settings(args)
    try:
        sock = bind(settings.host, settings.port, what="responder")
    except PortInUse as exc:
        raise UsageError(exc.strerror or str(exc)) from None
    if not is_loopback(settings.host) and not settings.token:
        from dataclasses import replace

        from plumbing.guard import generate_token

        settings = replace(settings, token=generate_token())
        print(
            f"listening on {settings.host}: notifications need this token (put it in Alertmanager's webhook "
            f"http_config.authorization, and give it to the collector as AIOPS_RESPONDER_TOKEN):\n"
            f"  export AIOPS_RESPONDER_TOKEN={settings.token}",
            file=sys.stderr,
            flush=True,
        )
    if settings.remediate and not settings.token:
        print(
            "warning: --remediate without AIOPS_RESPONDER_TOKEN: the collector takes remediation only with the "
            "responder's token, so set the same AIOPS_RESPONDER_TOKEN for the collector and the responder",
            file=sys.stderr,
        )
    responder = Responder.from_settings(settings)
    state = "on" if settings.remediate else "off"
    print(
        f"responder on http://{settings.host}:{sock.getsockname()[1]}/alertmanager, remediation {state}, "
        f"collector {settings.collector_url}, log {settings.log_path}",
        flush=True,
    )
    serve_forever(create_app(responder), sock)
    return 0
