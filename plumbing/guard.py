"""The guard in front of every service's HTTP app: body size, Host, token and content type of writes.

One ASGI middleware, :class:`RequestGuard`, shared by the collector, the detector and the
responder, so the rules are the same everywhere::

    every request    a body above ``max_body_bytes`` is refused (413) before the app sees it,
                     and one that takes longer than ``body_timeout_seconds`` to arrive (408)
    every write      (POST, PUT, PATCH, DELETE)
                     - the Host header names an IP address, ``localhost`` or one of
                       ``public_names`` (a DNS-rebinding page sends its own name: 403)
                     - with ``require_token``, ``Authorization: Bearer <token>`` names one of
                       ``tokens`` (401); the name of the token that matched is put in the
                       request's scope under :data:`TOKEN_SCOPE_KEY` for the app to check
                       who asks (``None`` without a token)
                     - a body is ``Content-Type: application/json`` (415), which a plain
                       cross-site form cannot send without a CORS preflight; no CORS header
                       is ever granted, so the preflight fails

Every refusal answers JSON ``{"field": ..., "error": ..., "errors": [...]}`` naming the
header at fault, as the services' own errors do. Tokens are compared with
:func:`hmac.compare_digest` and never logged or echoed.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import secrets
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Mapping, MutableMapping

from plumbing.errors import short

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "TOKEN_SCOPE_KEY",
    "GuardPolicy",
    "RequestGuard",
    "generate_token",
    "host_allowed",
    "matching_token",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Where the guard puts the name of the token a write carried (``None`` for none).
TOKEN_SCOPE_KEY = "aiops.token"
#: Bodies above this are refused: every request the kit takes is a few hundred bytes (an Alertmanager batch a few kB).
DEFAULT_MAX_BODY_BYTES = 256 * 1024
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def generate_token() -> str:
    """A fresh random bearer token (32 URL-safe characters)."""
    return secrets.token_urlsafe(24)


def host_allowed(host_header: str | None, public_names: frozenset[str] = frozenset()) -> bool:
    """Whether a Host header names this service: an IP address, ``localhost`` or a configured public name.

    DNS rebinding needs a name the attacker controls, so an IP literal is always safe.
    """
    if not host_header:
        return False
    host = host_header.strip().lower()
    if host.startswith("["):  # [::1]:8000
        host = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    if host in ("localhost", *(n.lower() for n in public_names)):
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def matching_token(authorization: str | None, tokens: Mapping[str, str]) -> str | None:
    """The name of the token ``Authorization: Bearer <token>`` carries, or None; compares every one in constant time."""
    if not authorization:
        return None
    scheme, _, given = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    found = None
    for name, token in tokens.items():
        if token and hmac.compare_digest(given.strip().encode(), token.encode()):
            found = name
    return found


@dataclass(frozen=True)
class GuardPolicy:
    """What :class:`RequestGuard` enforces (see the module's docstring)."""

    #: Accepted bearer tokens by name (``{"runner": ..., "responder": ...}``); empty ones are ignored.
    tokens: Mapping[str, str] = field(default_factory=dict)
    #: Refuse every write without one of ``tokens`` (a service listening off loopback).
    require_token: bool = False
    #: Host names (besides IP addresses and ``localhost``) clients may use to reach the service.
    public_names: frozenset[str] = frozenset()
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    body_timeout_seconds: float = 10.0


def _refusal(status: int, fld: str, error: str, headers: list[tuple[bytes, bytes]] | None = None) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    problem = {"field": fld, "error": error}
    body = json.dumps({**problem, "errors": [problem]}).encode()
    return status, body, [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *(headers or [])]


class RequestGuard:
    """ASGI middleware enforcing a :class:`GuardPolicy` before the app runs."""

    def __init__(self, app: ASGIApp, policy: GuardPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: dict[str, str] = {}
        for k, v in scope.get("headers", []):
            headers.setdefault(k.decode("latin-1").lower(), v.decode("latin-1"))
        refusal = self._check_headers(scope, headers)
        if refusal is None:
            body, refusal = await self._read_body(scope, headers, receive)
        if refusal is not None:
            status, payload, resp_headers = refusal
            await send({"type": "http.response.start", "status": status, "headers": resp_headers})
            await send({"type": "http.response.body", "body": payload})
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # only a disconnect is left

        await self.app(scope, replay, send)

    def _check_headers(self, scope: Scope, headers: dict[str, str]) -> tuple[int, bytes, list[tuple[bytes, bytes]]] | None:
        p = self.policy
        length = headers.get("content-length")
        if length is not None:
            if not length.strip().isdigit():
                return _refusal(400, "Content-Length", f"must be a number of bytes, not {short(length)}")
            if int(length) > p.max_body_bytes:
                return _refusal(413, "body", f"is {int(length)} bytes; at most {p.max_body_bytes} are accepted")
        method = scope.get("method", "GET")
        scope[TOKEN_SCOPE_KEY] = None
        if method not in WRITE_METHODS:
            return None
        if not host_allowed(headers.get("host"), p.public_names):
            names = ["an IP address", "localhost", *sorted(p.public_names)]
            return _refusal(403, "Host", f"{short(headers.get('host'))} does not name this service (allowed: {', '.join(names)})")
        name = matching_token(headers.get("authorization"), p.tokens)
        if p.require_token and name is None:
            return _refusal(
                401,
                "Authorization",
                "this service listens off loopback: every write needs 'Authorization: Bearer <token>' with the token it printed at start (or AIOPS_TOKEN)",
                [(b"www-authenticate", b'Bearer realm="aiops"')],
            )
        scope[TOKEN_SCOPE_KEY] = name
        has_body = (length is not None and int(length) > 0) or "transfer-encoding" in headers or method != "DELETE"
        ctype = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if has_body and ctype != "application/json":
            return _refusal(415, "Content-Type", f"must be application/json, not {short(ctype or None)}")
        return None

    async def _read_body(
        self, scope: Scope, headers: dict[str, str], receive: Receive
    ) -> tuple[bytes, tuple[int, bytes, list[tuple[bytes, bytes]]] | None]:
        """The whole body, read under the size and time limits."""
        p = self.policy
        chunks: list[bytes] = []
        total = 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + p.body_timeout_seconds
        while True:
            try:
                message = await asyncio.wait_for(receive(), timeout=max(0.0, deadline - loop.time()))
            except asyncio.TimeoutError:
                return b"", _refusal(408, "body", f"did not arrive within {p.body_timeout_seconds:g} s")
            if message["type"] != "http.request":
                return b"", _refusal(400, "body", "the client went away before sending it")
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > p.max_body_bytes:
                return b"", _refusal(413, "body", f"is over {p.max_body_bytes} bytes, the most accepted")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), None
