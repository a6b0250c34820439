"""OCPP-J 1.6 wire layer: frames, codec, schema validation, error codes. Pure and stateless."""

from ocpp_station.wire.errors import ErrorCode, OcppError
from ocpp_station.wire.frames import Call, CallError, CallResult, Frame, decode_frame, encode_frame

__all__ = [
    "Call",
    "CallError",
    "CallResult",
    "ErrorCode",
    "Frame",
    "OcppError",
    "decode_frame",
    "encode_frame",
]
