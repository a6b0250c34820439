"""Reconnect delays: exponential back-off with jitter (OCPP-J 1.6 §5.4 leaves the policy to us).

A plain generator, as python-websockets does it; the caller starts a new one after a good connection.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from ocpp_station.config.station import ReconnectPolicy


def backoff_delays(policy: ReconnectPolicy, rng: random.Random | None = None) -> Iterator[float]:
    """Delays growing by ``factor`` up to ``max_s``; each is reduced by a random share up to
    ``jitter`` so a fleet that lost its CSMS together does not come back in lock step."""
    draw = rng.random if rng is not None else random.random  # no Random (2.5 KB) per station
    delay = policy.initial_s
    while True:
        yield delay * (1.0 - policy.jitter * draw())
        delay = min(delay * policy.factor, policy.max_s)
