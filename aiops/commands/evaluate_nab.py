"""``aiops evaluate nab``: score a streaming detector on NAB-format data with NAB's rules.

:func:`register_nab` adds the ``nab`` sub-command to the ``evaluate`` sub-parsers that
``aiops.commands.evaluate`` owns; the handler prints JSON or a markdown table on stdout and its
progress on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from statistics import fmean
from typing import Any, Mapping

from plumbing.durations import duration_arg, duration_words
from plumbing.errors import UsageError

__all__ = ["NAB_DETECTORS", "register_nab", "render_markdown", "render_quirks", "run_nab"]

#: The streaming detectors NAB can run (``model``'s streaming ``DETECTOR_NAMES``; a test keeps
#: the two equal, and the parser does not import the model, so that ``--help`` is quick).
NAB_DETECTORS: tuple[str, ...] = ("linear", "zscore")


def register_nab(evaluate_subparsers: Any) -> None:
    """Add ``nab`` to the sub-parsers of ``aiops evaluate``."""
    parser = evaluate_subparsers.add_parser(
        "nab",
        help="score a detector on NAB-format data with NAB's rules",
        description=(
            "Run a detector streaming (no lookahead, one configuration for every file) over NAB CSVs, "
            "score it with NAB's standard, reward_low_FP_rate and reward_low_FN_rate profiles at its own "
            "threshold (0.5 after s/(1+s)) and at the corpus-optimised one, and write NAB "
            "results CSVs and one plot per file."
        ),
    )
    parser.add_argument("data_dir", help="NAB data folder (holds <category>/<file>.csv)")
    parser.add_argument("--windows", required=True, help="NAB windows JSON, e.g. labels/combined_windows.json")
    parser.add_argument(
        "--results-dir",
        default=None,
        help="where <detector>/<category>/<detector>_<file>.csv and .png go (default: ~/.local/share/aiops/nab)",
    )
    parser.add_argument("--detector", choices=NAB_DETECTORS, default="linear", help="detector to score (default: linear)")
    parser.add_argument("--format", choices=("json", "markdown"), default="markdown", help="output format")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG per file")
    parser.add_argument(
        "--select",
        choices=("none", "cv"),
        default="none",
        help=(
            "none: the detector's shipped configuration; cv (linear only): choose the configuration and the corpus "
            "threshold by cross-validation over files (folds by file, stratified by category, a grid fixed in the code), "
            "report in-sample and cross-validated scores, and write results for the configuration chosen on all files"
        ),
    )
    parser.add_argument(
        "--folds",
        type=int,
        default=None,
        help="folds for --select cv (default: 4, the number fixed in the code; another shows how much the estimate depends on it)",
    )
    parser.add_argument(
        "--rule",
        choices=("best", "robust", "plateau"),
        default=None,
        help=(
            "selection rule for --select cv (all are reported; this one is the headline and picks the configuration "
            "written): best = best pooled training score; robust = best mean rank over the training folds and the "
            "middle of the widest threshold plateau within 1 point of the best; plateau = robust, but at the corpus threshold each "
            "configuration is ranked at its plateau midpoint, the threshold it would be used with (default: robust)"
        ),
    )
    parser.add_argument(
        "--also-folds",
        type=int,
        nargs="+",
        default=(),
        metavar="K",
        help="with --select cv, also report the cross-validated scores at these fold counts (a stability check; not used to choose)",
    )
    parser.add_argument(
        "--also-assignments",
        type=int,
        default=0,
        metavar="N",
        help="with --select cv, also cross-validate under N other fixed fold assignments (same folds and strata, other "
        "files together) and report each rule's scores over all of them: how much the estimate owes to one split; not used to choose",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="processes for --select cv (default: 2 when the machine is idle, else 1; the result does not depend on it)",
    )
    parser.add_argument(
        "--every",
        type=duration_arg,
        default=None,
        metavar="DURATION",
        help=(
            "average each file into buckets of this span first (e.g. 30m, 1h; the windows keep their times): how the "
            "detector holds when the same series arrive at a coarser step (not with --select cv)"
        ),
    )
    parser.add_argument(
        "--with-quirky-copies",
        metavar="DIR",
        default=None,
        help=(
            "write synthetic quirky copies of one listed file (timestamp going back, duplicate timestamp, NaN and "
            "non-numeric values, +-1e308, an empty file, a one-row file) into DIR with a windows file listing "
            "them and every listed file, and evaluate the lot: every quirk is reported, the rest scored"
        ),
    )
    parser.set_defaults(func=run_nab)


def _progress(done: int, total: int, what: str) -> None:
    print(f"nab: {done}/{total} {what}", file=sys.stderr, flush=True)


def run_nab(args: argparse.Namespace) -> int:
    """Handler of ``aiops evaluate nab``."""
    from evaluation import (
        NAB_EVERY_RANGE_SECONDS,
        NAB_FOLDS,
        NabInputError,
        evaluate_nab,
        nab_default_jobs,
        select_and_evaluate_nab,
        write_quirky_copies,
    )
    from model import make_streaming_detector as make_detector

    if args.select == "cv" and args.detector != "linear":
        raise UsageError(f"--select cv tunes the linear detector's settings; --detector is {args.detector!r}, allowed: linear")
    low, high = NAB_EVERY_RANGE_SECONDS  # 1 s to 3650 d
    if args.every is not None and not low <= args.every <= high:
        raise UsageError(f"--every must be from 1s to 3650d, got {args.every:g} s")
    if args.every is not None and args.select == "cv":
        raise UsageError("--every applies to a plain run; --select cv cross-validates on the files as they are (allowed: --select none)")
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {args.jobs}")
    for name, value in (("--folds", args.folds), *(("--also-folds", k) for k in args.also_folds)):
        if value is not None and value < 2:
            raise UsageError(f"{name} must be at least 2, got {value}")
    if not 0 <= args.also_assignments <= 100:
        raise UsageError(f"--also-assignments must be from 0 to 100, got {args.also_assignments}")
    try:
        data_dir, windows = args.data_dir, args.windows
        if args.with_quirky_copies is not None:
            data_dir, windows = write_quirky_copies(data_dir, windows, args.with_quirky_copies)
            _progress(0, 0, f"quirky copies and their windows file written to {args.with_quirky_copies}")
        if args.select == "cv":
            report = select_and_evaluate_nab(
                data_dir,
                windows,
                results_dir=args.results_dir,
                plots=not args.no_plots,
                jobs=args.jobs if args.jobs is not None else nab_default_jobs(),
                folds=args.folds if args.folds is not None else NAB_FOLDS,
                rule=args.rule,
                also_folds=args.also_folds,
                also_assignments=args.also_assignments,
                progress=_progress,
            )
        else:
            report = evaluate_nab(
                data_dir,
                windows,
                detector=make_detector(args.detector),
                results_dir=args.results_dir,
                plots=not args.no_plots,
                every_seconds=args.every,
                progress=_progress,
            )
    except NabInputError as exc:
        raise UsageError(str(exc)) from None
    if args.format == "json":
        print(json.dumps(report, indent=2))
    else:
        print(render_markdown(report))
    return 0


def render_markdown(report: Mapping[str, Any]) -> str:
    """The report as a short markdown table, one row per NAB profile."""
    lines = [
        f"NAB scores of `{report['detector']}` on {report['files']} files, {report['windows']} windows "
        f"(0 = never fires, 100 = perfect)"
        + (f"; each file averaged into {duration_words(report['every_seconds'])} buckets" if report.get("every_seconds") else ""),
        "",
        f"Scored {report['files_scored']} of {report['files_listed']} files.",
        *(f"- not scored: `{item['file']}`: {item['reason']}" for item in report["not_scored"]),
        "",
        "| profile | score (corpus-optimised threshold) | threshold | score (own threshold "
        f"{report['own_threshold']}) |",
        "|---|---:|---:|---:|",
    ]
    for name, score in report["scores"].items():
        lines.append(
            f"| {name} | {score:.2f} | {report['thresholds'][name]:.4f} | {report['scores_own_threshold'][name]:.2f} |"
        )
    if "selection" in report:
        lines += render_selection(report)
    lines += render_quirks(report)
    lines += ["", f"Results: {report['results_dir']}"]
    return "\n".join(lines)


def _config(config: Mapping[str, Any]) -> str:
    """``key=value, ...``; a span in seconds also in words (``level_seconds=43200 (12 h)``)."""
    def shown(key: str, value: Any) -> str:
        if key.endswith("_seconds") and isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            return f"{value:g} ({duration_words(value)})"
        return str(value)

    return ", ".join(f"{k}={shown(k, v)}" for k, v in config.items())


def render_selection(report: Mapping[str, Any]) -> list[str]:
    """The cross-validation: every rule's in-sample and cross-validated scores, every profile, both thresholds, and what was chosen."""
    sel = report["selection"]
    axes = "; ".join(f"{k} {', '.join(str(v) for v in values)}" for k, values in sel["grid_axes"].items())
    lines = [
        "",
        f"Settings chosen by {sel['folds']}-fold cross-validation over files (folds stratified by category), "
        f"{sel['configurations']} configurations ({axes}); scores over all {sel['windows']} windows; "
        f"rule used: {sel['rule']}:",
        "",
        "| rule | profile | in-sample (corpus threshold) | cross-validated (corpus threshold) | in-sample (own threshold) | cross-validated (own threshold) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for rule, figures in sel["rules"].items():
        for name, in_sample in figures["in_sample"].items():
            cv = figures["cross_validated"][name]
            lines.append(
                f"| {rule} | {name} | {in_sample['corpus']['score']:.2f} | {cv['corpus']['score']:.2f} | "
                f"{in_sample['own']['score']:.2f} | {cv['own']['score']:.2f} |"
            )
    for folds, by_rule in sel["other_folds"].items():
        lines += ["", f"Cross-validated at {folds} folds (a stability check, not used to choose):", "",
                  "| rule | profile | corpus threshold | own threshold |", "|---|---|---:|---:|"]
        for rule, by_profile in by_rule.items():
            for name, scores in by_profile.items():
                lines.append(f"| {rule} | {name} | {scores['corpus']:.2f} | {scores['own']:.2f} |")
    if sel.get("assignments"):
        count = len(sel["assignments"][sel["rule"]]["standard"]["corpus"])
        lines += ["", f"Cross-validated at {sel['folds']} folds under {count} fold assignments (the one above first; "
                  "a check of how much the estimate owes to one split, not used to choose): mean (lowest to highest)", "",
                  "| rule | profile | corpus threshold | own threshold |", "|---|---|---:|---:|"]
        spread = lambda v: f"{fmean(v):.2f} ({min(v):.2f} to {max(v):.2f})"  # noqa: E731
        for rule, by_profile in sel["assignments"].items():
            for name, scores in by_profile.items():
                lines.append(f"| {rule} | {name} | {spread(scores['corpus'])} | {spread(scores['own'])} |")
    lines += ["", f"Chosen on the training folds by the {sel['rule']} rule (standard profile, corpus threshold):"]
    for item in sel["cross_validated"]["standard"]["corpus"]["per_fold"]:
        plateau = f" (plateau {item['plateau'][0]:.4f} to {item['plateau'][1]:.4f})" if "plateau" in item else ""
        lines.append(f"- fold {item['fold']}: threshold {item['threshold']:.4f}{plateau}, {_config(item['configuration'])}")
    lines += ["", f"Results above and written: the configuration chosen on all files by the {sel['rule']} rule, "
              f"{_config(report['configuration'])} (corpus threshold above: the argmax)."]
    return lines


def render_quirks(report: Mapping[str, Any]) -> list[str]:
    """Every quirk met while reading, one table row each (file, row, what was done)."""
    lines: list[str] = []
    quirks = report["quirks"]
    if quirks:
        counts = ", ".join(f"{kind} {n}" for kind, n in report["quirk_counts"].items())
        where = "rows count from 0 after the header"
        if report.get("every_seconds"):
            where += " of each file as read, before it was averaged into buckets (the results CSV has one row a bucket)"
        lines += ["", f"Quirks met ({len(quirks)}: {counts}); {where}:", "",
                  "| file | row | rows | quirk | what was done |", "|---|---:|---:|---|---|"]
        for q in quirks:
            lines.append(f"| {q['file']} | {q['row']} | {q['rows']} | {q['kind']} | {q['action']} |")
    return lines
