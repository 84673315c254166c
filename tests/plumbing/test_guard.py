"""The request guard: Host, token and content type of writes, body size and time, on a bare ASGI app."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from plumbing.guard import TOKEN_SCOPE_KEY, GuardPolicy, RequestGuard, host_allowed, matching_token


async def _echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An app that answers 200 with the body it read and the token name the guard found."""
    body = b""
    while True:
        m = await receive()
        body += m.get("body", b"")
        if not m.get("more_body"):
            break
    out = json.dumps({"body": body.decode(), "token": scope.get(TOKEN_SCOPE_KEY)}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": out})


def _call(policy: GuardPolicy, method: str, headers: dict[str, str], chunks: list[bytes], *, stall: bool = False) -> tuple[int, dict[str, Any]]:
    """Run one request through the guard; ``stall`` leaves the body unfinished (a half-sent request)."""
    sent: list[dict[str, Any]] = []
    queue = list(chunks)

    async def receive() -> dict[str, Any]:
        if queue:
            return {"type": "http.request", "body": queue.pop(0), "more_body": bool(queue) or stall}
        if stall:
            await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": "/x", "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    asyncio.run(RequestGuard(_echo, policy)(scope, receive, send))
    return sent[0]["status"], json.loads(b"".join(m.get("body", b"") for m in sent[1:]))


JSON = {"Host": "127.0.0.1:8000", "Content-Type": "application/json"}
OPEN = GuardPolicy(tokens={"runner": "r-token", "responder": "s-token"})
LOCKED = GuardPolicy(tokens={"runner": "r-token", "responder": "s-token"}, require_token=True)


def test_off_loopback_every_write_needs_a_known_token_and_reads_stay_open() -> None:
    assert _call(LOCKED, "GET", {"Host": "10.0.0.5:8000"}, [b""])[0] == 200
    status, body = _call(LOCKED, "POST", JSON, [b"{}"])
    assert status == 401 and body["field"] == "Authorization"
    status, body = _call(LOCKED, "DELETE", {**JSON, "Authorization": "Bearer wrong"}, [b""])
    assert status == 401 and "wrong" not in json.dumps(body)  # the token is never echoed
    assert _call(LOCKED, "POST", {**JSON, "Authorization": "Bearer r-token"}, [b"{}"]) == (200, {"body": "{}", "token": "runner"})
    assert _call(OPEN, "POST", {**JSON, "Authorization": "Bearer s-token"}, [b"{}"])[1]["token"] == "responder"
    assert _call(OPEN, "POST", JSON, [b"{}"]) == (200, {"body": "{}", "token": None})  # loopback: no token needed


def test_a_write_must_be_json_and_name_this_host() -> None:
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        status, body = _call(OPEN, "POST", {"Host": "localhost", "Content-Type": ctype}, [b"a=1"])
        assert status == 415 and body["field"] == "Content-Type"
    assert _call(OPEN, "POST", {"Host": "localhost"}, [b""])[0] == 415  # an empty no-cors POST too
    assert _call(OPEN, "DELETE", {"Host": "localhost"}, [b""])[0] == 200  # a DELETE always needs a CORS preflight
    status, body = _call(OPEN, "POST", {**JSON, "Host": "attacker.example"}, [b"{}"])
    assert status == 403 and body["field"] == "Host" and "localhost" in body["error"]
    assert _call(GuardPolicy(public_names=frozenset({"kit.example"})), "POST", {**JSON, "Host": "KIT.example:8000"}, [b"{}"])[0] == 200


def test_a_body_over_the_limit_is_refused_before_the_app_reads_it() -> None:
    small = GuardPolicy(max_body_bytes=100)
    status, body = _call(small, "POST", {**JSON, "Content-Length": str(10_000_000)}, [b"{}"])
    assert status == 413 and body["field"] == "body"
    status, body = _call(small, "POST", JSON, [b"x" * 60, b"x" * 60])  # chunked, no length
    assert status == 413 and body["field"] == "body"
    assert _call(small, "POST", {**JSON, "Content-Length": "banana"}, [b"{}"])[1]["field"] == "Content-Length"


def test_a_half_sent_body_times_out() -> None:
    status, body = _call(GuardPolicy(body_timeout_seconds=0.05), "POST", JSON, [b'{"kind":'], stall=True)
    assert status == 408 and body["field"] == "body"


@pytest.mark.parametrize(
    ("host", "ok"),
    [("127.0.0.1:8000", True), ("[::1]:8000", True), ("localhost", True), ("10.1.2.3", True), ("evil.example:8000", False), ("", False), (None, False)],
)
def test_host_allowed(host: str | None, ok: bool) -> None:
    assert host_allowed(host) is ok


def test_matching_token_wants_the_bearer_scheme() -> None:
    assert matching_token("Bearer abc", {"a": "abc"}) == "a"
    assert matching_token("Basic abc", {"a": "abc"}) is None
    assert matching_token("Bearer ", {"a": ""}) is None  # an unset token matches nothing
