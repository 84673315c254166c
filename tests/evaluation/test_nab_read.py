"""Real data as it comes: quirky NAB files are processed or skipped, counted, reported; one bad file never aborts the corpus."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiops.commands.evaluate_nab import render_markdown
from evaluation._nab import FileResult, NabInputError, evaluate_nab, load_corpus, plot_result, run_detector, to_unit_interval
from evaluation._nab_quirks import QUIRKY_CATEGORY, QUIRKY_FILES, write_quirky_copies
from evaluation._nab_read import SHORT_FILE_ROWS, UnscorableFile, file_order_window_rows, parse_series
from model._streaming import StreamingLinear, StreamingZScore

REPO = Path(__file__).resolve().parents[2]
NAB = REPO.parent / "shared" / "datasets" / "nab"
STEP = 300
FORMAT = "%Y-%m-%d %H:%M:%S"
START = pd.Timestamp("2014-01-01 00:00:00")

QUIRKY = settings(max_examples=40, derandomize=True, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def csv_text(stamps, values) -> str:
    return "timestamp,value\n" + "".join(f"{t},{v}\n" for t, v in zip(stamps, values))


def machine_temperature_like(n: int = 3000, back_at: int = 1800, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """A daily series whose clock goes back one hour at ``back_at`` and a spike later (the style of NAB's machine temperature file)."""
    rng = np.random.default_rng(seed)
    t = START + pd.to_timedelta(STEP * np.arange(n), unit="s")
    t = t.where(np.arange(n) < back_at, t - pd.Timedelta(hours=1))
    x = 70 + 5 * np.sin(2 * np.pi * np.arange(n) / 288) + rng.normal(0, 0.5, n)
    x[2500:] += 15  # the failure
    return [f"{s:{FORMAT}}" for s in t], x


# ---- regression: a timestamp that goes back an hour ---------------------------------------


def test_a_file_whose_clock_goes_back_an_hour_is_scored_in_file_order(tmp_path):
    stamps, x = machine_temperature_like()
    data = tmp_path / "data" / "realKnownCause"
    data.mkdir(parents=True)
    (data / "machine_temperature_like.csv").write_text(csv_text(stamps, x))
    window = [f"{stamps[2480]}.000000", f"{stamps[2560]}.000000"]
    windows = tmp_path / "windows.json"
    windows.write_text(json.dumps({"realKnownCause/machine_temperature_like.csv": [window]}))

    corpus = load_corpus(tmp_path / "data", windows)
    (series,) = corpus.series
    assert series.values.size == 3000  # every row kept, in file order
    assert series.windows == ((2480, 2560),)
    (quirk,) = [q for q in series.quirks if q.kind == "timestamp goes back"]
    assert quirk.row == 1800 and "back 55 min" in quirk.action and "12 rows" in quirk.action

    report = evaluate_nab(tmp_path / "data", windows, detector=StreamingLinear(), results_dir=tmp_path / "r", plots=False)
    assert report["files_scored"] == report["files_listed"] == 1
    assert report["scores"]["standard"] > 90  # the failure at the window's start is found
    written = pd.read_csv(tmp_path / "r" / "linear" / "realKnownCause" / "linear_machine_temperature_like.csv")
    assert written["timestamp"].tolist() == stamps  # in file order, nothing sorted or dropped


def test_file_order_windows_follow_nab_when_the_clock_goes_back():
    t = np.array(["2014-01-01 00:00", "2014-01-01 00:05", "2014-01-01 00:10", "2014-01-01 00:00",
                  "2014-01-01 00:05", "2014-01-01 00:10", "2014-01-01 00:15"], dtype="datetime64[ns]")
    # NAB enters at the first row equal to the start and leaves at the first later row equal to the end
    assert file_order_window_rows(t, [("2014-01-01 00:05", "2014-01-01 00:10")]) == [(1, 2)]
    assert file_order_window_rows(t, [("2014-01-01 00:12", "2014-01-01 00:15")]) == [(6, 6)]
    with pytest.raises(ValueError, match="covers no row"):
        file_order_window_rows(t, [("2014-01-02 00:00", "2014-01-02 00:10")])


# ---- each quirk, processed or skipped, and counted ----------------------------------------


def test_each_quirk_is_listed_with_its_row_and_what_was_done():
    stamps = [f"{START + pd.Timedelta(seconds=STEP * k):{FORMAT}}" for k in range(400)]
    values = [str(float(k % 7)) for k in range(400)]
    values[0] = "oops"  # leading unusable: skipped
    values[10], values[11], values[12], values[13] = "", "nan", "n/a", "inf"
    stamps[20] = "yesterday"
    stamps[31] = stamps[30]  # duplicate
    stamps[40] = f"{START + pd.Timedelta(seconds=STEP * 30):{FORMAT}}"  # back
    stamps = stamps[:50] + [f"{START + pd.Timedelta(seconds=STEP * (k + 60)):{FORMAT}}" for k in range(50, 400)]  # gap
    values[100:400] = ["5.0"] * 300
    values[60] = "1e308"
    text = csv_text(stamps, values) + "only-one-field\n"
    raw = parse_series(text, "cat/f.csv")
    found = {(q.kind, q.row, q.rows) for q in raw.quirks}
    assert ("leading unusable value", 0, 1) in found
    assert ("missing value", 10, 1) in found
    assert ("non-finite value", 11, 1) in found and ("non-finite value", 13, 1) in found
    assert ("non-numeric value", 12, 1) in found
    assert ("bad timestamp", 20, 1) in found
    assert ("duplicate timestamp", 31, 1) in found
    assert ("timestamp goes back", 40, 1) in found
    assert ("gap", 50, 1) in found
    assert ("constant stretch", 100, 300) in found
    assert ("extreme value", 60, 1) in found
    assert ("bad row", 400, 1) in found
    assert raw.values.size == 400 - 2  # the leading unusable row and the bad timestamp are skipped
    assert np.all(np.isfinite(raw.values))
    assert raw.carried.sum() == 4
    # a carried row holds the last usable value
    assert raw.values[9:13].tolist() == [raw.values[8]] * 4


@pytest.mark.parametrize(
    ("text", "reason"),
    [("", "empty file"), ("timestamp,value\n", "no rows"), ("time,val\n2014-01-01 00:00:00,1\n", "header"),
     ("timestamp,value\n2014-01-01 00:00:00,x\n2014-01-01 00:05:00,\n", "no usable value")],
)
def test_a_file_that_cannot_be_scored_says_why(text, reason):
    with pytest.raises(UnscorableFile, match=reason):
        parse_series(text, "cat/f.csv")


def test_one_bad_file_never_aborts_the_corpus_and_the_report_says_scored_n_of_m(tmp_path):
    stamps, x = machine_temperature_like(back_at=10_000)
    data = tmp_path / "data" / "cat"
    data.mkdir(parents=True)
    (data / "good.csv").write_text(csv_text(stamps, x))
    (data / "empty.csv").write_text("")
    (data / "words.csv").write_text(csv_text(stamps[:5], ["a", "b", "c", "d", "e"]))
    (data / "one_row.csv").write_text(csv_text(stamps[:1], x[:1]))
    window = [[f"{stamps[2480]}.000000", f"{stamps[2560]}.000000"]]
    windows = tmp_path / "w.json"
    windows.write_text(json.dumps({"cat/good.csv": window, "cat/empty.csv": window, "cat/words.csv": [],
                                   "cat/missing.csv": [], "cat/one_row.csv": [], "cat/late.csv": window}))
    (data / "late.csv").write_text(csv_text(stamps[:100], x[:100]))  # its window is after its last row
    report = evaluate_nab(tmp_path / "data", windows, detector=StreamingZScore(), results_dir=tmp_path / "r", plots=False)
    assert (report["files_scored"], report["files_listed"]) == (2, 6)
    reasons = {n["file"]: n["reason"] for n in report["not_scored"]}
    assert reasons["cat/empty.csv"] == "empty file"
    assert "no usable value" in reasons["cat/words.csv"]
    assert "does not exist" in reasons["cat/missing.csv"]
    assert "covers no row" in reasons["cat/late.csv"]
    assert any(q["kind"] == "short file" and q["file"] == "cat/one_row.csv" for q in report["quirks"])
    text = render_markdown(report)
    assert "Scored 2 of 6 files." in text and "not scored: `cat/empty.csv`: empty file" in text


def test_nothing_scorable_is_one_clear_error_naming_each_file(tmp_path):
    (tmp_path / "data" / "cat").mkdir(parents=True)
    (tmp_path / "data" / "cat" / "a.csv").write_text("")
    windows = tmp_path / "w.json"
    windows.write_text(json.dumps({"cat/a.csv": []}))
    with pytest.raises(NabInputError, match=r"scored 0 of 1 files \(cat/a.csv: empty file\)"):
        evaluate_nab(tmp_path / "data", windows, detector=StreamingZScore(), results_dir=tmp_path / "r", plots=False)


# ---- extreme values: plots clip ------------------------------------------------------------


def test_plus_minus_1e308_neither_crash_the_plot_nor_stop_the_file_being_scored(tmp_path):
    stamps, x = machine_temperature_like(back_at=10_000)
    x[1000], x[1600] = 1e308, -1e308
    data = tmp_path / "data" / "cat"
    data.mkdir(parents=True)
    (data / "glitch.csv").write_text(csv_text(stamps, [repr(float(v)) for v in x]))
    windows = tmp_path / "w.json"
    windows.write_text(json.dumps({"cat/glitch.csv": [[f"{stamps[2480]}.000000", f"{stamps[2560]}.000000"]]}))
    report = evaluate_nab(tmp_path / "data", windows, detector=StreamingZScore(), results_dir=tmp_path / "r", plots=True)
    assert report["files_scored"] == 1
    assert [q["row"] for q in report["quirks"] if q["kind"] == "extreme value"] == [1000, 1600]
    png = tmp_path / "r" / "zscore" / "cat" / "zscore_glitch.png"
    assert png.stat().st_size > 0


# ---- property tests: generated quirky series ------------------------------------------------

QUIRKS = ("ok", "ok", "ok", "ok", "back", "duplicate", "blank", "word", "nan", "inf", "bad stamp", "bad row", "huge")


@st.composite
def quirky_files(draw):
    n = draw(st.integers(min_value=0, max_value=400))
    kinds = draw(st.lists(st.sampled_from(QUIRKS), min_size=n, max_size=n))
    base = draw(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False))
    lines, clock = ["timestamp,value"], START
    for k, kind in enumerate(kinds):
        step = {"back": -3600, "duplicate": 0}.get(kind, STEP)
        clock = clock + pd.Timedelta(seconds=step)
        stamp = "not a time" if kind == "bad stamp" else f"{clock:{FORMAT}}"
        value = {"blank": "", "word": "n/a", "nan": "nan", "inf": "-inf", "huge": "1e308"}.get(kind, repr(base + (k % 13)))
        lines.append("just-one-field" if kind == "bad row" else f"{stamp},{value}")
    return "\n".join(lines) + "\n", kinds


@QUIRKY
@given(quirky_files())
def test_any_quirky_file_is_read_or_refused_with_a_reason_and_every_row_is_accounted_for(generated):
    text, kinds = generated
    try:
        raw = parse_series(text, "cat/gen.csv")
    except UnscorableFile as exc:
        assert str(exc)
        usable = [k for k in kinds if k not in ("blank", "word", "nan", "inf", "bad stamp", "bad row")]
        assert not usable  # refused only when no row has both a time and a value
        return
    skipped = sum(q.rows for q in raw.quirks if q.action.startswith("skipped"))
    assert raw.values.size + skipped == len(kinds)
    carried = sum(q.rows for q in raw.quirks if q.action.startswith("carried"))
    assert carried == int(raw.carried.sum())
    assert np.all(np.isfinite(raw.values))
    assert all(0 <= q.row < len(kinds) and q.rows >= 1 for q in raw.quirks)
    assert sum(1 for q in raw.quirks if q.kind == "bad row") <= kinds.count("bad row")
    if raw.values.size < SHORT_FILE_ROWS:
        assert any(q.kind == "short file" for q in raw.quirks)


@QUIRKY
@given(quirky_files())
def test_any_readable_quirky_file_gets_a_score_per_row_in_0_1_and_carried_rows_score_0(generated):
    text, _ = generated
    try:
        raw = parse_series(text, "cat/gen.csv")
    except UnscorableFile:
        return
    from evaluation._nab import NabSeries

    series = NabSeries(key="cat/gen.csv", timestamps=raw.timestamps, values=raw.values, windows=(), carried=raw.carried)
    for detector in (StreamingZScore(), StreamingLinear()):
        with np.errstate(all="ignore"):
            failures: list[tuple[str, str]] = []
            results = run_detector(detector, [series], failures=failures)
        if not results:
            assert failures and failures[0][0] == "cat/gen.csv"
            continue
        (result,) = results
        assert result.anomaly_score.shape == raw.values.shape
        assert np.all((result.anomaly_score >= 0) & (result.anomaly_score < 1))
        assert np.all(result.anomaly_score[raw.carried] == 0)


@settings(max_examples=30, derandomize=True, deadline=None, database=None)
@given(st.lists(st.sampled_from([0.0, 1.0, -3.5, 1e9, -1e9, 1e308, -1e308, 5e307]), min_size=1, max_size=60))
def test_a_plot_clips_any_finite_values(tmp_path_factory, values):
    x = np.asarray(values, dtype=float)
    t = (np.datetime64("2014-01-01T00:00:00", "ns") + np.arange(x.size) * np.timedelta64(STEP, "s")).astype("datetime64[ns]")
    from evaluation._nab import NabSeries
    from model._streaming import StreamResult

    series = NabSeries(key="cat/p.csv", timestamps=t, values=x, windows=())
    result = FileResult(series=series, result=StreamResult(score=np.zeros(x.size), expected=x.copy(), lower=x - 1, upper=x + 1),
                        anomaly_score=to_unit_interval(np.zeros(x.size)))
    out = tmp_path_factory.mktemp("plot") / "p.png"
    with np.errstate(all="ignore"):
        plot_result(out, result, detector_name="t", thresholds={"standard": 0.5})
    assert out.stat().st_size > 0


# ---- the quirky copies of the shared files --------------------------------------------------


@pytest.mark.skipif(not (NAB / "data").is_dir(), reason="NAB subset not present next to the repo")
def test_quirky_copies_of_the_shared_files_report_every_quirk_and_score_the_rest(tmp_path):
    """The done-when of issue 15 part 1: the 28 shared files plus synthetic quirky copies (a few seconds)."""
    data, windows = write_quirky_copies(NAB / "data", NAB / "labels" / "combined_windows.json", tmp_path / "quirky")
    with np.errstate(all="ignore"):
        report = evaluate_nab(data, windows, detector=StreamingLinear(), results_dir=tmp_path / "r", plots=False)
    print(render_markdown(report))
    assert report["files_listed"] == 28 + len(QUIRKY_FILES)
    assert report["files_scored"] == 28 + len(QUIRKY_FILES) - 1
    assert report["not_scored"] == [{"file": f"{QUIRKY_CATEGORY}/empty.csv", "reason": "empty file"}]
    met = {(q["file"].split("/")[1], q["kind"]) for q in report["quirks"] if q["file"].startswith(QUIRKY_CATEGORY)}
    assert met == {
        ("timestamp_back.csv", "timestamp goes back"),
        ("duplicate_timestamp.csv", "duplicate timestamp"),
        ("missing_values.csv", "non-finite value"),
        ("missing_values.csv", "missing value"),
        ("missing_values.csv", "non-numeric value"),
        ("extreme_values.csv", "extreme value"),
        ("one_row.csv", "short file"),
    }
    # the shared files' own quirks are reported too: the daylight-saving repeats of two files
    assert sum(1 for q in report["quirks"] if q["kind"] == "duplicate timestamp" and not q["file"].startswith(QUIRKY_CATEGORY)) == 2
    assert report["windows"] == 36 + 4  # four scored copies keep their source's window
