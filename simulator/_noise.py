"""Counter-based noise: a seeded normal deviate for any (stream, index) pair.

The simulator must give the same number for the same seed and the same time no
matter in which order, or at which step, times are asked for: the live collector
asks for a few seconds at a time, a backfill asks for days at once, and both must
agree. A sequential ``numpy.random.Generator`` cannot be read at random positions,
so the noise is a pure function of (seed, stream, index), built from the
SplitMix64 finaliser (the mixer ``numpy.random.SeedSequence``'s authors recommend for
counter-based streams) and a Box-Muller transform. Fully vectorised.
"""

from __future__ import annotations

import zlib

import numpy as np

__all__ = ["normal", "stream_id", "smooth_normal"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = x + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def stream_id(*parts: object) -> int:
    """A stable 32-bit id for a named noise stream (e.g. ``("cpu", "checkout-1")``)."""
    return zlib.crc32("/".join(map(str, parts)).encode())


def _uniform(seed: int, stream: int, index: np.ndarray, salt: int) -> np.ndarray:
    key = _mix(np.uint64((seed & 0xFFFFFFFF) << 32 | (stream & 0xFFFFFFFF)) ^ np.uint64(salt))
    bits = _mix(index.astype(np.int64).view(np.uint64) ^ key)
    return ((bits >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53


def normal(seed: int, stream: int, index: np.ndarray) -> np.ndarray:
    """Standard normal deviates, one per integer ``index``, fixed by (seed, stream, index)."""
    idx = np.asarray(index, dtype=np.int64)
    u1 = _uniform(seed, stream, idx, 0x1234)
    u2 = _uniform(seed, stream, idx, 0xABCD)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def smooth_normal(seed: int, stream: int, t: np.ndarray, knot_seconds: float) -> np.ndarray:
    """Unit-variance-at-knots noise, linearly interpolated between knots ``knot_seconds`` apart."""
    x = np.asarray(t, dtype=np.float64) / knot_seconds
    k = np.floor(x)
    w = x - k
    a = normal(seed, stream, k.astype(np.int64))
    b = normal(seed, stream, k.astype(np.int64) + 1)
    return a * (1.0 - w) + b * w
