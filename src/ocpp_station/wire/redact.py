"""Secrets kept out of frame logs (security whitepaper A01.FR.12: the AuthorizationKey SHALL NOT be
disclosed in the charge point's logging, diagnostics files included).

The only frame that carries a secret of ours is the CSMS's ChangeConfiguration.req of
``AuthorizationKey`` (§7.2; key names match case-insensitively, as the key table's lookup does). Every
frame logged (the diagnostics log, the wire trace) goes through :func:`redact` first. It costs one
substring search for any other frame.
"""

from __future__ import annotations

from typing import Any

import orjson

#: What the value is replaced with.
HIDDEN = "***"
_SECRET_KEYS = frozenset({"authorizationkey"})
_ACTION = b'"ChangeConfiguration"'


def redact(data: bytes | str) -> bytes | str:
    """``data`` with the value of a ChangeConfiguration.req of a secret key hidden; else unchanged.
    A frame that names the action but cannot be read is withheld whole (it might hold the key)."""
    raw = data.encode() if isinstance(data, str) else data
    if _ACTION not in raw:
        return data
    try:
        frame: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return "<a ChangeConfiguration frame that is no JSON: withheld>"
    if not (isinstance(frame, list) and len(frame) == 4 and frame[2] == "ChangeConfiguration"):
        return data
    payload = frame[3]
    if not isinstance(payload, dict):
        return data
    key = payload.get("key")
    if not isinstance(key, str) or key.lower() not in _SECRET_KEYS or "value" not in payload:
        return data
    frame[3] = {**payload, "value": HIDDEN}
    shown = orjson.dumps(frame)
    return shown.decode() if isinstance(data, str) else shown
