"""``aiops responder``: Alertmanager's webhook receiver."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from plumbing.errors import UsageError

__all__ = ["register"]


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser(
        "responder",
        help="receive Alertmanager's webhooks; record alerts, remediate where the runbook allows",
        description="Records every alert Alertmanager sends to /alertmanager. With --remediate, asks the collector "
        "to take the runbook's automatic actions (restart, scale_out) on the probable-cause service.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8002)
    p.add_argument("--collector-url", default="http://127.0.0.1:8000")
    p.add_argument("--log", type=Path, default=Path(".aiops/alerts.jsonl"), help="where alerts are recorded (JSON lines)")
    p.add_argument("--remediate", action="store_true", help="take automatic runbook actions (off by default)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from plumbing.serving import PortInUse, bind, is_loopback, serve_forever
    from responder import Responder, create_app

    try:
        sock = bind(args.host, args.port, what="responder")
    except PortInUse as exc:
        raise UsageError(exc.strerror or str(exc)) from None
    if not is_loopback(args.host):
        print(f"warning: listening on {args.host}: the responder has no authentication", file=sys.stderr)
    responder = Responder(log_path=args.log, collector_url=args.collector_url, remediate=args.remediate)
    state = "on" if args.remediate else "off"
    print(f"responder on http://{args.host}:{sock.getsockname()[1]}/alertmanager, remediation {state}, log {args.log}", flush=True)
    serve_forever(create_app(responder), sock)
    return 0
