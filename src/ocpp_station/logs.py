"""Logging: the command line's text or JSON-lines output, the station id on every record that concerns
a station, and the wire trace.

**The station id.** Many stations share one process (a fleet), so the id travels with the work, not
with a logger: :data:`STATION_ID` is a :class:`contextvars.ContextVar` that :meth:`Station.run
<ocpp_station.transport.station.Station.run>` sets in its own task. asyncio copies the context into
every task and every ``call_soon`` / ``call_later`` callback at the time it is made, so the station's
TaskGroup, its timers, the hardware simulator's timers and the frames its link reads all carry it;
:class:`StationFilter` stamps it on each record (``record.station``) as the record is made. A
LoggerAdapter would have needed the id passed to every logger of the engine, which knows no station.

**JSON lines** (:class:`JsonFormatter`): one object per line: ``time`` (ISO 8601, UTC, milliseconds),
``level``, ``logger``, ``message``, ``station`` (when known), ``exception`` (the traceback, when
any), and for the wire trace ``direction`` and ``frame``. Written with the standard library (``json``):
python-json-logger would add a dependency for what is twenty lines here.

**The wire trace**: every frame in and out, at DEBUG on the logger ``ocpp_station.wire``
(:func:`with_wire_trace`). Whether that logger is enabled for DEBUG is checked once, when a station is
built: a station built without it pays nothing per frame (a fleet of 10,000 included), and one built
with it logs every frame through its ``frame_logger``.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import TextIO

__all__ = [
    "FORMATS",
    "STATION_ID",
    "WIRE_LOG",
    "JsonFormatter",
    "StationFilter",
    "configure_logging",
    "trace_frame",
    "with_wire_trace",
]

#: The id of the charge point the running code works for; None outside any station.
STATION_ID: ContextVar[str | None] = ContextVar("ocpp_station_id", default=None)
#: The wire trace: every frame at DEBUG (``--log-level debug``, or this logger alone).
WIRE_LOG = logging.getLogger("ocpp_station.wire")
#: ``--log-format`` choices.
FORMATS = ("text", "json")
#: The text format (the command line's since the start; unchanged by this module).
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"

FrameLogger = Callable[[str, bool, bytes | str], None]  # (charge point id, outgoing, data)


class StationFilter(logging.Filter):
    """Stamps ``record.station`` with :data:`STATION_ID` (unless the record names its station itself,
    as the wire trace does). Filters nothing out."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "station", None) is None:
            record.station = STATION_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines inside strings are escaped by JSON)."""

    #: Extra record attributes written when a record carries them (the wire trace's).
    EXTRA = ("direction", "frame")

    def format(self, record: logging.LogRecord) -> str:
        created = record.created
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
        entry: dict[str, object] = {
            "time": f"{stamp}.{int(created % 1 * 1000):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        station = getattr(record, "station", None)
        if station is None:
            station = STATION_ID.get()
        if station is not None:
            entry["station"] = station
        for name in self.EXTRA:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str | int, log_format: str = "text", stream: TextIO | None = None) -> None:
    """:func:`logging.basicConfig` with one handler on ``stream`` (default stderr) at ``level``: the
    text format of :data:`TEXT_FORMAT`, or JSON lines; both stamp the station id on each record. As
    ``basicConfig``, nothing when the root logger has handlers already (a test runner's)."""
    if log_format not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, not {log_format!r}")
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(StationFilter())
    if isinstance(level, str):
        level = getattr(logging, level.upper())
    logging.basicConfig(level=level, handlers=[handler])


def trace_frame(cp_id: str, outgoing: bool, data: bytes | str) -> None:
    """Log one frame on :data:`WIRE_LOG` at DEBUG (a ``frame_logger``): the station id, the direction
    (``sent`` to the CSMS, ``received`` from it) and the frame's text (incoming frames arrive with the
    AuthorizationKey redacted, as everywhere else)."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    WIRE_LOG.debug(
        "%s %s %s",
        cp_id,
        "->" if outgoing else "<-",
        text,
        extra={"station": cp_id, "direction": "sent" if outgoing else "received", "frame": text},
    )


def with_wire_trace(frame_logger: FrameLogger | None) -> FrameLogger | None:
    """``frame_logger`` with the wire trace added when :data:`WIRE_LOG` is enabled for DEBUG now (a
    station asks once, when it is built); ``frame_logger`` itself otherwise."""
    if not WIRE_LOG.isEnabledFor(logging.DEBUG):
        return frame_logger
    if frame_logger is None:
        return trace_frame
    inner = frame_logger

    def both(cp_id: str, outgoing: bool, data: bytes | str) -> None:
        inner(cp_id, outgoing, data)
        trace_frame(cp_id, outgoing, data)

    return both
