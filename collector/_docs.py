"""The incident reference (docs/incidents.md), generated from the catalog so the two cannot drift."""

from __future__ import annotations

from pathlib import Path

from simulator import CATALOG_PATH, Catalog, load_catalog

__all__ = ["DOC_PATH", "incidents_markdown"]

#: Where the generated reference lives in the repository.
DOC_PATH = Path("docs") / "incidents.md"


def _g(x: float) -> str:
    return f"{x:g}"


def _duration(seconds: float) -> str:
    s = int(seconds)
    if s % 3600 == 0:
        return f"{s // 3600}h"
    if s % 60 == 0:
        return f"{s // 60}m"
    return f"{s}s"


def incidents_markdown(catalog: Catalog | None = None) -> str:
    """The incident reference as Markdown (what ``aiops docs incidents`` writes)."""
    c = catalog or load_catalog()
    out = [
        "# Incident reference",
        "",
        f"<!-- Generated from {CATALOG_PATH.parent.name}/{CATALOG_PATH.name} by `aiops docs incidents`; do not edit by hand. -->",
        "",
        "Every incident has a **kind**, a **service**, an **intensity**, a **duration** and an optional",
        "start **delay**. Trigger one from the command line or over HTTP while a collector runs:",
        "",
        "```sh",
        "aiops incident trigger cpu_hog --service checkout --duration 5m",
        "curl -X POST http://127.0.0.1:8000/api/incidents -H 'Content-Type: application/json' \\",
        "     -d '{\"kind\": \"cpu_hog\", \"service\": \"checkout\", \"duration_seconds\": 300}'",
        "```",
        "",
        "While an incident is active, `aiops_incident_active{kind, service}` is 1 (the ground truth",
        "the detector is scored against). `GET /api/catalog` returns this catalog as JSON.",
        "",
        "## Kinds",
        "",
        "| kind | main signal | shows also in | intensity (min–max, default) | remediation |",
        "|---|---|---|---|---|",
    ]
    for k in c.kinds:
        r = k.intensity
        remedy = k.remediation or ("(none: permanent)" if k.permanent else "(a human must act)")
        out.append(
            f"| [`{k.name}`](#{k.name}) | {k.main_signal} | {k.cascades} | {_g(r.min)}–{_g(r.max)}, {_g(r.default)} "
            f"| {remedy} |"
        )
    for k in c.kinds:
        out += ["", f"### {k.name}", "", k.description, "", f"*Effect:* {k.effect}", ""]
        if k.cascades == "callers":
            out.append("*Cascades* to the services that call the affected one (directly or not).")
        elif k.cascades == "callees":
            out.append("*Cascades* to the services the affected one calls.")
        else:
            out.append("*Stays* on the affected service.")
        out.append("")
        out.append(
            f"*Intensity* {_g(k.intensity.min)} to {_g(k.intensity.max)}, default {_g(k.intensity.default)}. "
            + (
                f"*Remediation:* `{k.remediation}`."
                if k.remediation
                else "*Remediation:* none; the change is meant to stay."
                if k.permanent
                else "*Remediation:* none automatic; a human must act."
            )
        )
        if k.permanent:
            out += [
                "",
                f"*Permanent:* a change meant to stay. Unless told otherwise it lasts the longest duration allowed "
                f"({_duration(c.duration_seconds.max)}: the rest of any workshop session); it can still be stopped by hand. "
                "The labelled evaluation suite and chaos mode leave it out (they play incidents that end). The online "
                "detector accepts it as the new normal after its re-baseline horizon (`--rebaseline-after`, 15 minutes "
                "by default); a frozen model keeps flagging it.",
            ]
    out += [
        "",
        "## Limits",
        "",
        f"- At most **{c.max_concurrent_incidents}** incidents may overlap in time (the API answers 409 beyond that).",
        f"- Duration: {_duration(c.duration_seconds.min)} to {_duration(c.duration_seconds.max)}, "
        f"default {_duration(c.duration_seconds.default)} (`duration_seconds`).",
        f"- Delay before the start: {_duration(c.delay_seconds.min)} to {_duration(c.delay_seconds.max)} (`delay_seconds`).",
        "",
        "## Services and their dependencies",
        "",
        "| service | replicas | calls | description |",
        "|---|---|---|---|",
    ]
    for s in c.services:
        calls = ", ".join(f"{d.callee} (×{_g(d.calls_per_request)})" for d in c.dependencies if d.caller == s.name) or "—"
        out.append(f"| `{s.name}` | {s.replicas} | {calls} | {s.description} |")
    out += [
        "",
        "```mermaid",
        "graph LR",
        *[f"  {d.caller} --> {d.callee}" for d in c.dependencies],
        "```",
        "",
    ]
    return "\n".join(out)
