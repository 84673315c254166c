"""Hostile request bodies for the property-based tests of every endpoint (hypothesis strategies), and the checks they share.

The example budget is fixed and derandomised (:data:`FUZZ`), so CI runs the same requests every time.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

#: A fixed, derandomised budget: the same requests on every run, a few seconds per endpoint.
FUZZ = settings(max_examples=60, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)

NASTY_TEXT = st.sampled_from(["\ud800", "\udfff", "\x00", "é" * 3, "x" * 5_000, "../../etc/passwd", "", " ", "<script>", "1e999"])
NUMBERS = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([10**400, -(10**400), 0, -1]),
    st.floats(allow_nan=True, allow_infinity=True),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, st.text(max_size=12), NASTY_TEXT)
VALUES = st.recursive(SCALARS, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3), max_leaves=8)


def objects(fields: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """JSON objects built from an endpoint's field names (and a stray one), each holding a good or a hostile value."""
    keys = st.sampled_from([*fields, "colour"])
    good_or_bad = lambda k: st.one_of(st.just(fields.get(k)), VALUES)  # noqa: E731
    return st.lists(keys, max_size=len(fields) + 1, unique=True).flatmap(
        lambda ks: st.fixed_dictionaries({k: good_or_bad(k) for k in ks})
    )


def raw_bodies(fields: dict[str, Any]) -> st.SearchStrategy[tuple[bytes, str | None]]:
    """(body bytes, Content-Type): JSON objects, wrong types, invalid JSON and UTF-8, deep nesting, 1 MB, wrong content types."""
    as_json = lambda v: json.dumps(v, allow_nan=True).encode()  # noqa: E731
    body = st.one_of(
        objects(fields).map(as_json),
        VALUES.map(as_json),
        st.binary(max_size=64),
        st.sampled_from([b"{", b'{"kind": "\xff\xfe"}', b"[" * 100_000, b'{"a":' * 5_000, b"x" * 1_100_000, b"", b"null"]),
    )
    ctype = st.sampled_from(["application/json", "application/json", "application/json", "text/plain", "application/x-www-form-urlencoded", None])
    return st.tuples(body, ctype)


def check_answer(status: int, body: bytes) -> dict[str, Any] | None:
    """No 5xx; every 4xx is JSON naming the field. Returns the error body of a 4xx."""
    assert status < 500, body[:300]
    if status < 400:
        return None
    err = json.loads(body)
    assert isinstance(err.get("field"), str) and err["field"], err
    assert len(body) < 20_000, "an error quotes a short prefix of a bad value, never the value"
    return err


__all__ = ["FUZZ", "VALUES", "check_answer", "objects", "raw_bodies"]
