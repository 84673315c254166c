"""The *gate*: the best candidate against the champion in service, on the same evaluation data.

With enough labelled incidents (``min_labelled_incidents``, 10 by default: one miss then
moves recall by less than 0.1) the gate reads event metrics:

1. **floors**: recall >= ``min_recall``, precision >= ``min_precision``, F1 >= ``min_f1``;
2. **margin**: the candidate's F1 >= the champion's F1 - ``f1_margin``;
3. **tie**: equal F1 (to 4 decimals) and equal false alarms per day (to 2 decimals) keep
   the champion; equal F1 with more false alarms per day is worse and keeps it too.

With fewer, it reads residual error alone: the candidate's residual error must be at most
``max_residual_error`` and below the champion's (equal to 4 decimals: a tie, the champion
stays).

**Recent data.** When the recalibrate stage accepted a lasting change as the new normal
(:mod:`training._recalibrate`), the evaluation window straddles two worlds and the comparison
above cannot tell them apart (two fits of the same history tie). The gate then compares the
two models on the *recent window* instead (the points after the last acceptance, out of sample
for the offsets): the candidate must pass its floors as above (and, on F1, stay within the
margin of the champion's F1), and its recent residual error must be lower than the
champion's (to 4 decimals; equal: the champion stays).

No champion: a candidate that passes the floors becomes the first one. A champion that
cannot be loaded or scored is reported and the candidate is gated on the floors alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._evaluate import Evaluation

__all__ = ["GateDecision", "GateRules", "RecentComparison", "decide"]


@dataclass(frozen=True, kw_only=True)
class GateRules:
    """The gate's thresholds (from :class:`training.TrainSettings`)."""

    min_recall: float = 0.8
    min_precision: float = 0.8
    min_f1: float = 0.8
    f1_margin: float = 0.0
    max_residual_error: float = 0.8


@dataclass(frozen=True, kw_only=True)
class RecentComparison:
    """Both models' residual error on the recent window (after the last accepted lasting change)."""

    start_seconds: float
    candidate_error: float
    champion_error: float
    #: How the window is named in the reasons, e.g. ``the 8 points since 12:18:00Z``.
    window: str


@dataclass(frozen=True, kw_only=True)
class GateDecision:
    """The gate's verdict: ``promote``, the ``mode`` it used (``f1`` or ``residual``) and its reasons in words."""

    promote: bool
    mode: str
    reasons: tuple[str, ...]
    champion_version: str | None = None

    @property
    def verdict(self) -> str:
        return "promoted" if self.promote else "refused"

    def as_dict(self) -> dict[str, object]:
        return {"promote": self.promote, "mode": self.mode, "reasons": list(self.reasons), "champion_version": self.champion_version}


def _f1_floors(c: Evaluation, rules: GateRules) -> list[str]:
    out = []
    for name, value, floor in (("recall", c.recall, rules.min_recall), ("precision", c.precision, rules.min_precision), ("F1", c.f1, rules.min_f1)):
        if round(value, 4) < floor:
            out.append(f"{name} {value:.4f} is below the floor {floor:.2f}")
    return out


def decide(
    candidate: Evaluation,
    champion: Evaluation | None,
    rules: GateRules,
    *,
    use_f1: bool,
    champion_version: str | None = None,
    champion_problem: str | None = None,
    recent: RecentComparison | None = None,
) -> GateDecision:
    """The gate's decision for ``candidate`` against ``champion`` (None: no champion, or ``champion_problem`` says why not).

    ``recent``: compare on the recent window instead of the evaluation window (see the module docstring).
    """
    mode = ("f1" if use_f1 else "residual") + ("+recent" if recent is not None and champion is not None else "")
    refusals: list[str] = []
    if use_f1:
        refusals += _f1_floors(candidate, rules)
    elif not round(candidate.residual_error, 4) <= rules.max_residual_error:
        refusals.append(f"residual error {candidate.residual_error:.4f} is above the floor {rules.max_residual_error:.2f}")
    if champion is not None and recent is not None:
        if use_f1 and round(candidate.f1, 4) < round(champion.f1 - rules.f1_margin, 4):
            refusals.append(f"F1 {candidate.f1:.4f} is lower than the champion's {champion.f1:.4f}")
        r_c, r_ch = round(recent.candidate_error, 4), round(recent.champion_error, 4)
        if not r_c < r_ch:
            refusals.append(
                f"on the recent data ({recent.window}) residual error {r_c:.4f} is not lower than the champion's {r_ch:.4f}: the champion stays"
            )
    elif champion is not None:
        if use_f1:
            f1_c, f1_ch = round(candidate.f1, 4), round(champion.f1, 4)
            fa_c, fa_ch = round(candidate.false_alarms_per_day, 2), round(champion.false_alarms_per_day, 2)
            if f1_c < round(f1_ch - rules.f1_margin, 4):
                margin = f" - margin {rules.f1_margin:g}" if rules.f1_margin else ""
                refusals.append(f"F1 {f1_c:.4f} is lower than the champion's {f1_ch:.4f}{margin}")
            elif f1_c == f1_ch and fa_c == fa_ch:
                refusals.append(f"a tie with the champion (F1 {f1_c:.4f}, {fa_c:.2f} false alarms per day on both): the champion stays")
            elif f1_c == f1_ch and fa_c > fa_ch:
                refusals.append(f"the same F1 as the champion ({f1_c:.4f}) with more false alarms per day ({fa_c:.2f} vs {fa_ch:.2f})")
        else:
            r_c, r_ch = round(candidate.residual_error, 4), round(champion.residual_error, 4)
            if r_c > r_ch:
                refusals.append(f"residual error {r_c:.4f} is higher than the champion's {r_ch:.4f}")
            elif r_c == r_ch:
                refusals.append(f"a tie with the champion (residual error {r_c:.4f} on both): the champion stays")
    if refusals:
        return GateDecision(promote=False, mode=mode, reasons=tuple(refusals), champion_version=champion_version)
    if champion is None:
        what = "passes the floors" + (f"; {champion_problem}" if champion_problem else "; no champion yet: it becomes the first")
        return GateDecision(promote=True, mode=mode, reasons=(what,), champion_version=champion_version)
    if recent is not None:
        why = (
            f"passes the floor{'s' if use_f1 else ''} and describes the recent data better than champion version {champion_version}: "
            f"residual error {recent.candidate_error:.4f} vs {recent.champion_error:.4f} on {recent.window}, after a lasting change"
        )
    elif use_f1:
        why = (
            f"passes the floors and beats champion version {champion_version}: F1 {candidate.f1:.4f} vs {champion.f1:.4f}, "
            f"{candidate.false_alarms_per_day:.2f} vs {champion.false_alarms_per_day:.2f} false alarms per day"
        )
    else:
        why = f"passes the floor and beats champion version {champion_version}: residual error {candidate.residual_error:.4f} vs {champion.residual_error:.4f}"
    return GateDecision(promote=True, mode=mode, reasons=(why,), champion_version=champion_version)
