"""The settings scheme: options over environment over defaults, shared variables, conversion by type, the table."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional

import pytest

from plumbing.settings import EnvSettings, SettingsError, env_var, env_vars, read_env, setting, settings_table, shared


def _home_of(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("FAKE_HOME", "/nowhere")) / "cache"


@dataclass(frozen=True, kw_only=True)
class ToySettings(EnvSettings):
    """A made-up service."""

    ENV_PREFIX = "TOY_"

    #: Interface to listen on.
    host: str = "127.0.0.1"
    #: Its port.
    port: int = 8100
    #: Shared with every service.
    upstream_url: str = shared("TOY_SHARED_URL", "http://upstream:1")
    #: How often to work.
    every_seconds: float = 60.0
    #: A whole number of seconds.
    grace_seconds: int = 5
    #: A ratio, not a duration.
    share: float = 0.5
    #: Switch it on.
    enabled: bool = False
    #: A file.
    log_path: Path = Path("toy.log")
    #: An optional folder;
    #: two comment lines.
    extra_dir: Optional[Path] = None
    #: The other way to write Optional.
    other_dir: Path | None = None
    #: Depends on the environment | has a pipe.
    cache_dir: Path = setting(default_factory=lambda: Path("/default"), default_from_env=_home_of, shown_default="`$FAKE_HOME/cache`")

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be in 0..65535, not {self.port}")


def test_defaults_then_environment_then_options() -> None:
    env = {"TOY_HOST": "0.0.0.0", "TOY_PORT": "9000", "UNRELATED": "x"}
    assert ToySettings.from_env({}).port == 8100
    s = ToySettings.from_env(env, port=9100, host=None)
    assert (s.host, s.port) == ("0.0.0.0", 9100)  # the option wins, a None option is no option
    assert ToySettings.from_env({"TOY_PORT": "  "}).port == 8100  # empty counts as unset


def test_from_env_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOY_PORT", "9200")
    assert ToySettings.from_env().port == 9200


def test_each_field_has_its_prefixed_variable_unless_shared() -> None:
    assert env_var(ToySettings, "every_seconds") == "TOY_EVERY_SECONDS"
    assert env_var(ToySettings, "upstream_url") == "TOY_SHARED_URL"
    assert env_vars(ToySettings)["log_path"] == "TOY_LOG_PATH"
    assert list(env_vars(ToySettings)) == [f.name for f in dataclasses.fields(ToySettings)]
    with pytest.raises(KeyError, match="no setting 'nope'"):
        env_var(ToySettings, "nope")


def test_a_shared_variable_is_read_and_the_prefixed_name_is_not() -> None:
    s = ToySettings.from_env({"TOY_SHARED_URL": "http://elsewhere:2", "TOY_UPSTREAM_URL": "http://ignored:3"})
    assert s.upstream_url == "http://elsewhere:2"


@pytest.mark.parametrize(("raw", "seconds"), [("90", 90.0), ("15m", 900.0), ("1h30m", 5400.0), ("500ms", 0.5), ("2d", 172800.0)])
def test_seconds_fields_take_durations_with_units(raw: str, seconds: float) -> None:
    assert ToySettings.from_env({"TOY_EVERY_SECONDS": raw}).every_seconds == pytest.approx(seconds)


def test_whole_seconds_stay_whole_and_other_floats_take_no_units() -> None:
    assert ToySettings.from_env({"TOY_GRACE_SECONDS": "1m"}).grace_seconds == 60
    with pytest.raises(SettingsError, match=r"TOY_GRACE_SECONDS='1.5s': not a whole number of seconds"):
        ToySettings.from_env({"TOY_GRACE_SECONDS": "1.5s"})
    assert ToySettings.from_env({"TOY_SHARE": "0.25"}).share == 0.25
    with pytest.raises(SettingsError, match="TOY_SHARE='5m': not a number"):
        ToySettings.from_env({"TOY_SHARE": "5m"})


@pytest.mark.parametrize(
    ("var", "raw", "message"),
    [
        ("TOY_PORT", "x", "TOY_PORT='x': not an integer"),
        ("TOY_PORT", "80.5", "TOY_PORT='80.5': not an integer"),
        ("TOY_EVERY_SECONDS", "soon", "TOY_EVERY_SECONDS='soon': not a duration (seconds, or with units: 90s, 5m"),
        ("TOY_ENABLED", "maybe", "TOY_ENABLED='maybe': not a boolean (use 1/0, true/false, yes/no, on/off)"),
    ],
)
def test_a_bad_value_names_the_variable_its_value_and_what_is_allowed(var: str, raw: str, message: str) -> None:
    with pytest.raises(SettingsError) as info:
        ToySettings.from_env({var: raw})
    assert str(info.value).startswith(message)
    assert isinstance(info.value, ValueError)


def test_the_class_checks_still_apply_and_raise_a_settings_error() -> None:
    with pytest.raises(SettingsError, match="port must be in 0..65535"):
        ToySettings.from_env({"TOY_PORT": "70000"})
    with pytest.raises(SettingsError, match="port must be in 0..65535"):
        ToySettings.from_env({}, port=-1)


@pytest.mark.parametrize(
    ("raw", "value"),
    [("1", True), ("true", True), ("TRUE", True), ("yes", True), ("on", True), ("0", False), ("false", False), ("No", False), ("off", False)],
)
def test_bool_parsing(raw: str, value: bool) -> None:
    assert ToySettings.from_env({"TOY_ENABLED": raw}).enabled is value


def test_paths_and_optional_paths() -> None:
    s = ToySettings.from_env({})
    assert s.extra_dir is None and s.other_dir is None and s.log_path == Path("toy.log")
    s = ToySettings.from_env({"TOY_EXTRA_DIR": "/tmp/a", "TOY_OTHER_DIR": "rel/b", "TOY_LOG_PATH": "~/x.log"})
    assert s.extra_dir == Path("/tmp/a") and s.other_dir == Path("rel/b")
    assert s.log_path == Path.home() / "x.log"  # ~ is expanded
    assert ToySettings.from_env({}, extra_dir=Path("/opt")).extra_dir == Path("/opt")


def test_a_default_can_come_from_the_environment() -> None:
    assert ToySettings().cache_dir == Path("/default")
    assert ToySettings.from_env({}).cache_dir == Path("/nowhere/cache")
    assert ToySettings.from_env({"FAKE_HOME": "/h"}).cache_dir == Path("/h/cache")
    assert ToySettings.from_env({"FAKE_HOME": "/h", "TOY_CACHE_DIR": "/c"}).cache_dir == Path("/c")
    assert ToySettings.from_env({"FAKE_HOME": "/h"}, cache_dir=Path("/o")).cache_dir == Path("/o")


def test_read_env_can_read_some_fields_only() -> None:
    env = {"TOY_PORT": "9000", "TOY_ENABLED": "maybe"}
    assert read_env(ToySettings, env, ("port",)) == {"port": 9000}


def test_an_unknown_option_is_a_programming_error() -> None:
    with pytest.raises(TypeError, match="no setting colour"):
        ToySettings.from_env({}, colour="red")


def test_the_settings_are_frozen_and_keyword_only() -> None:
    s = ToySettings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.port = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        ToySettings("0.0.0.0")  # type: ignore[misc]


def test_the_table_documents_every_field_from_its_comment() -> None:
    lines = settings_table(ToySettings).splitlines()
    assert lines[:2] == ["| Variable | Field | Default | Meaning |", "|---|---|---|---|"]
    rows = {line.split(" | ")[1].strip("`"): line for line in lines[2:]}
    assert list(rows) == [f.name for f in dataclasses.fields(ToySettings)]
    assert rows["host"] == "| `TOY_HOST` | `host` | `127.0.0.1` | Interface to listen on. |"
    assert rows["upstream_url"].startswith("| `TOY_SHARED_URL` | `upstream_url` | `http://upstream:1` |")
    assert rows["enabled"] == "| `TOY_ENABLED` | `enabled` | `false` | Switch it on. |"
    assert rows["extra_dir"] == "| `TOY_EXTRA_DIR` | `extra_dir` | unset | An optional folder; two comment lines. |"
    assert rows["cache_dir"] == "| `TOY_CACHE_DIR` | `cache_dir` | `$FAKE_HOME/cache` | Depends on the environment \\| has a pipe. |"


def test_a_field_without_a_comment_cannot_be_documented() -> None:
    @dataclass(frozen=True, kw_only=True)
    class Undocumented(EnvSettings):
        ENV_PREFIX = "U_"

        #: Documented.
        a: int = 1
        b: int = 2

    with pytest.raises(ValueError, match=r"Undocumented.b has no '#:' comment"):
        settings_table(Undocumented)
