"""The fitted model as data: FleetModel.save / FleetModel.load, readable versioned JSON."""

from __future__ import annotations

import dataclasses
import json
import subprocess

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from model import MODEL_FORMAT_VERSION, FleetModel, ModelFormatError, load_signals
from model import _format
from model_helpers import fleet_frame

EDGES = (("frontend", "checkout"),)


def split(frame: pd.DataFrame, days: float = 8) -> tuple[pd.DataFrame, pd.DataFrame]:
    cut = frame.index[0] + pd.Timedelta(days=days)
    return frame[frame.index < cut], frame[frame.index >= cut].copy()


def assert_same_outputs(a: FleetModel, b: FleetModel, frame: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.score(frame), b.score(frame), check_exact=True)
    pd.testing.assert_frame_equal(a.detect(frame), b.detect(frame), check_exact=True)
    pd.testing.assert_frame_equal(a.flags(frame), b.flags(frame), check_exact=True)
    ea, eb = a.explain(frame), b.explain(frame)
    pd.testing.assert_frame_equal(ea.summary, eb.summary, check_exact=True)
    pd.testing.assert_frame_equal(ea.terms, eb.terms, check_exact=True)


def assert_same_state(a: FleetModel, b: FleetModel) -> None:
    assert a.signal_set_ == b.signal_set_
    assert a.fit_time_ == b.fit_time_
    assert a.services_ == b.services_
    assert [tuple(e) for e in a.dependencies] == [tuple(e) for e in b.dependencies]
    assert list(a.models_) == list(b.models_)
    for name, ma in a.models_.items():
        mb = b.models_[name]
        assert ma.get_params() == mb.get_params()
        fitted = {k for k in vars(ma) if k.endswith("_")}
        assert fitted == {k for k in vars(mb) if k.endswith("_")}
        for k in fitted:
            va, vb = getattr(ma, k), getattr(mb, k)
            if isinstance(va, np.ndarray):
                assert va.dtype == vb.dtype and va.shape == vb.shape, k
                np.testing.assert_array_equal(va, vb, strict=True)
            else:
                assert va == vb and type(va) is type(vb), k


@pytest.fixture(scope="module")
def fleet() -> tuple[pd.DataFrame, pd.DataFrame]:
    train, test = split(fleet_frame(9, seed=4))
    test.loc[test.index[50:56], ("checkout", "latency")] += 0.05  # something to flag and explain
    return train, test


@pytest.fixture(scope="module")
def fitted(fleet) -> FleetModel:
    return FleetModel(dependencies=EDGES).fit(fleet[0])


# --------------------------------------------------------------------------- round trip
def test_round_trip_scores_detects_and_explains_exactly_with_context_regressors(fitted, fleet, tmp_path):
    train, test = fleet
    assert fitted.models_["latency"].n_context_ == 1  # latency given the request rate
    path = fitted.save(tmp_path / "model.json")
    loaded = FleetModel.load(path)
    assert_same_state(fitted, loaded)
    assert_same_outputs(fitted, loaded, test)
    assert len(loaded.explain(test).summary) >= 4
    assert loaded.signals == fitted.signal_set_  # a refit of the loaded model uses the same signals


def test_round_trip_of_a_model_fitted_with_incidents_and_flags(tmp_path):
    train, test = split(fleet_frame(9, seed=3))
    start, end = train.index[0] + pd.Timedelta(days=3), train.index[0] + pd.Timedelta(days=3, hours=6)
    train.loc[(train.index >= start) & (train.index < end), ("checkout", "latency")] += 0.05
    first = FleetModel(dependencies=EDGES).fit(train)
    flagged = first.flags(train)
    flagged.iloc[100:150, flagged.columns.get_loc(("frontend", "requests"))] = True
    model = FleetModel(dependencies=EDGES).fit(train, incidents=[("checkout", start, end)], flagged=flagged, fit_time=train.index[-1])
    assert model.models_["latency"].excluded_share_.min() > 0  # the incident reached frontend through the edge
    loaded = FleetModel.load(model.save(tmp_path / "cleaned.json"))
    assert_same_state(model, loaded)
    assert_same_outputs(model, loaded, test)
    pd.testing.assert_frame_equal(model.score(train), loaded.score(train), check_exact=True)


def test_to_dict_and_from_dict_round_trip_without_a_file(fitted, fleet):
    data = json.loads(json.dumps(fitted.to_dict()))
    loaded = FleetModel.from_dict(data, signals=load_signals())
    assert_same_state(fitted, loaded)
    pd.testing.assert_frame_equal(fitted.score(fleet[1]), loaded.score(fleet[1]), check_exact=True)


def test_float32_arrays_and_missing_values_round_trip_with_their_dtype(tmp_path):
    frame = fleet_frame(8, seed=5)
    frame[("checkout", "errors")] = np.nan  # an empty series: no intercept, scale or threshold
    model = FleetModel().fit(frame)
    assert np.isnan(model.models_["errors"].intercept_[1])
    lat = model.models_["latency"]
    lat.scale_ = lat.scale_.astype(np.float32)
    lat.coef_ = lat.coef_.astype(np.float32)
    path = model.save(tmp_path / "m.json")
    json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    loaded = FleetModel.load(path)
    assert loaded.models_["latency"].scale_.dtype == np.float32 and loaded.models_["latency"].coef_.dtype == np.float32
    assert_same_state(model, loaded)
    assert_same_outputs(model, loaded, frame)


# --------------------------------------------------------------------------- the file
def test_the_file_is_readable_json_a_trainee_can_navigate(fitted, tmp_path):
    path = fitted.save(tmp_path / "model.json")
    assert path.read_text().startswith('{\n  "format": "aiops-fleet-model",\n')  # indented, header first
    with path.open() as fh:
        data = json.load(fh)
    assert data["format"] == "aiops-fleet-model"
    assert data["format_version"] == 2 == MODEL_FORMAT_VERSION
    assert data["kit_version"] and "git_commit" in data
    assert pd.Timestamp(data["fit_time"]) == fitted.fit_time_ and data["fit_time_seconds"] == fitted.fit_time_.timestamp()
    assert data["dependencies"] == [["frontend", "checkout"]]

    latency = data["models"]["latency"]
    checkout = latency["series"]["checkout"]
    rate = checkout["coefficients"]["requests"]  # checkout's latency per unit of request rate
    i = fitted.services_["latency"].index("checkout")
    model = fitted.models_["latency"]
    assert rate == {"value": model.coef_[i, model.feature_names_.index("requests")], "unit": "seconds per rps"}
    assert checkout["coefficients"]["daily_sin_1"]["unit"] == "seconds"
    assert checkout["context_mean"]["requests"]["unit"] == "rps"
    assert checkout["intercept"] == {"value": model.intercept_[i], "unit": "seconds"}
    assert checkout["sigma"]["value"] == model.scale_[i] and checkout["threshold"]["value"] == model.threshold_[i]
    assert checkout["direction"] == "above" and checkout["min_deviation"] == {"value": 0.005, "unit": "seconds"}
    assert latency["features"] == list(model.feature_names_) and latency["params"]["context_names"] == ["requests"]
    # the change components' thresholds, per series, with their units (format version 2)
    changes = checkout["change_thresholds"]
    assert set(changes) == {"level shift", "noise change"}
    assert changes["level shift"] == {"value": fitted.change_thresholds_["latency"]["level shift"][i], "unit": "robust sigmas"}
    assert changes["level shift"]["value"] >= 4.0 and changes["noise change"]["value"] >= 2.0  # at least the floors

    spec = {s["name"]: s for s in data["signal_set"]["signals"]}["latency"]
    assert spec["promql"] == load_signals().spec("latency").promql and spec["context"] == ["requests"]
    assert set(data["signal_set"]) == {f.name for f in dataclasses.fields(fitted.signal_set_)}
    assert data["signals_sha256"] == _format.signals_sha256(load_signals())


def test_every_fitted_attribute_of_the_baseline_is_in_the_format(fitted):
    for model in fitted.models_.values():
        assert {k for k in vars(model) if k.endswith("_")} == _format._FITTED_ATTRIBUTES


def test_unfitted_model_cannot_be_saved(tmp_path):
    with pytest.raises(NotFittedError):
        FleetModel().save(tmp_path / "model.json")
    assert not (tmp_path / "model.json").exists()


def test_git_commit_is_null_without_git(monkeypatch):
    def no_git(*args, **kwargs):
        raise FileNotFoundError("git")

    _format.provenance.cache_clear()
    monkeypatch.setattr(subprocess, "run", no_git)
    try:
        assert _format.provenance()["git_commit"] is None
    finally:
        _format.provenance.cache_clear()


# --------------------------------------------------------------------------- refusals
def test_another_format_version_is_refused_saying_what_this_kit_reads(fitted, tmp_path):
    data = fitted.to_dict()
    data["format_version"] = 3
    path = tmp_path / "future.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ModelFormatError, match=r"format_version 3 is not supported by this kit \(it reads 1 and 2\)"):
        FleetModel.load(path)


def _as_version_1(data: dict) -> dict:
    """A saved model as the kit wrote it before the change components (format_version 1)."""
    old = json.loads(json.dumps(data))
    old["format_version"] = 1
    old["signal_set"] = {k: v for k, v in old["signal_set"].items() if not k.startswith("change_")}
    old["signals_sha256"] = _format.hashlib.sha256(_format._canonical(old["signal_set"])).hexdigest()
    for model in old["models"].values():
        for series in model["series"].values():
            series.pop("change_thresholds")
    return old


def test_a_version_1_file_is_read_with_the_change_components_off(fitted, fleet, tmp_path):
    _, test = fleet
    path = tmp_path / "v1.json"
    path.write_text(json.dumps(_as_version_1(fitted.to_dict())))
    old = FleetModel.load(path, signals=load_signals())  # the same signals as version 1 knew them
    assert old.signal_set_.change_settings().enabled() == () and old.change_thresholds_ == {}
    point_only = FleetModel.from_dict(fitted.to_dict())
    point_only.change_thresholds_ = {}
    pd.testing.assert_frame_equal(old.score(test), point_only.score(test), check_exact=True)
    assert set(old.detect(test)["component"]) <= {"point", ""}
    # written again, it is a version 2 file without thresholds, still scoring the point only
    again = FleetModel.load(old.save(tmp_path / "v2.json"))
    assert again.to_dict()["format_version"] == 2
    pd.testing.assert_frame_equal(again.score(test), old.score(test), check_exact=True)


def test_a_model_fitted_for_other_signals_is_refused(fitted, tmp_path):
    path = fitted.save(tmp_path / "model.json")
    assert FleetModel.load(path, signals=load_signals()).signal_set_ == fitted.signal_set_
    base = load_signals()
    other = dataclasses.replace(
        base, signals=tuple(dataclasses.replace(s, context=("requests", "cpu")) if s.name == "latency" else s for s in base.signals)
    )
    with pytest.raises(ModelFormatError, match="fitted for other signals") as err:
        FleetModel.load(path, signals=other)
    assert "'latency' differs: context" in str(err.value) and "'cpu'" not in str(err.value)
    with pytest.raises(ModelFormatError, match="shared setting debounce_k"):
        FleetModel.load(path, signals=base.with_overrides(debounce_k=3))


def test_files_that_are_not_saved_models_are_refused(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("latency looked odd on tuesday\n")
    with pytest.raises(ModelFormatError, match="not JSON"):
        FleetModel.load(text)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"format": "something-else", "format_version": 1}))
    with pytest.raises(ModelFormatError, match="not a saved fleet model.*expected"):
        FleetModel.load(other)
    listing = tmp_path / "list.json"
    listing.write_text("[1, 2, 3]")
    with pytest.raises(ModelFormatError, match="not a saved fleet model"):
        FleetModel.load(listing)


def test_a_damaged_file_is_refused_not_half_loaded(fitted, tmp_path):
    data = fitted.to_dict()
    del data["models"]["latency"]["series"]["checkout"]["coefficients"]["requests"]
    path = tmp_path / "damaged.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ModelFormatError, match="coefficients"):
        FleetModel.load(path)
    data = fitted.to_dict()
    data["signal_set"]["debounce_k"] = 1  # edited by hand: the hash no longer matches
    path.write_text(json.dumps(data))
    with pytest.raises(ModelFormatError, match="signals_sha256"):
        FleetModel.load(path)
    data = fitted.to_dict()
    del data["models"]
    path.write_text(json.dumps(data))
    with pytest.raises(ModelFormatError, match=r"malformed .* file \(format_version 2\): missing 'models'"):
        FleetModel.load(path)
    old = _as_version_1(fitted.to_dict())
    del old["dependencies"]
    path.write_text(json.dumps(old))
    with pytest.raises(ModelFormatError, match=r"\(format_version 1\): missing 'dependencies'"):  # the file's version, not the kit's
        FleetModel.load(path)


def test_signal_hash_ignores_int_versus_float_spelling():
    base = load_signals()
    ints = dataclasses.replace(base, signals=tuple(dataclasses.replace(s, z_floor=4) for s in base.signals))
    assert _format.signals_sha256(ints) == _format.signals_sha256(base)
    assert _format.signals_sha256(base.with_overrides(z_floor=5.0)) != _format.signals_sha256(base)
