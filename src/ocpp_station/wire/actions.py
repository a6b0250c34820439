"""The fixed table of OCPP 1.6 actions: the only names a frame's action is ever resolved against.

Nothing read from the wire names a file, a path, a class or code (issue #8, "hostile frames"): an
incoming action is looked up here first, and only a hit goes on to routing and schema validation. An
action that is not in this table is answered with NotImplemented (OCPP-J 1.6 §4.2.3: "Requested Action
is not known by receiver"); a known action that this charge point does not answer gets NotSupported.

The table lists every message of OCPP 1.6 edition 2 (§4 "Operations Initiated by Charge Point", §5
"Operations Initiated by Central System", DataTransfer both ways) and of the OCPP 1.6 security
whitepaper edition 3 (§4 "Messages"), with who initiates it. Each has a request and a response schema in
the official set shipped by the PyPI package ``ocpp`` (``ocpp/v16/schemas``); ``tests/wire`` checks the
table against that set, so a schema added or missing there fails the suite.
"""

from __future__ import annotations

from enum import Flag, auto
from types import MappingProxyType


class Initiator(Flag):
    """Who sends the request of an action."""

    CHARGE_POINT = auto()
    CENTRAL_SYSTEM = auto()
    BOTH = CHARGE_POINT | CENTRAL_SYSTEM


_CP = Initiator.CHARGE_POINT
_CS = Initiator.CENTRAL_SYSTEM

#: Every OCPP 1.6 action (core specification and security whitepaper) and who initiates it.
ACTIONS: MappingProxyType[str, Initiator] = MappingProxyType(
    {
        # OCPP 1.6 §4: initiated by the charge point
        "Authorize": _CP,
        "BootNotification": _CP,
        "DiagnosticsStatusNotification": _CP,
        "FirmwareStatusNotification": _CP,
        "Heartbeat": _CP,
        "MeterValues": _CP,
        "StartTransaction": _CP,
        "StatusNotification": _CP,
        "StopTransaction": _CP,
        # OCPP 1.6 §4.3 / §5.6: either side
        "DataTransfer": Initiator.BOTH,
        # OCPP 1.6 §5: initiated by the central system
        "CancelReservation": _CS,
        "ChangeAvailability": _CS,
        "ChangeConfiguration": _CS,
        "ClearCache": _CS,
        "ClearChargingProfile": _CS,
        "GetCompositeSchedule": _CS,
        "GetConfiguration": _CS,
        "GetDiagnostics": _CS,
        "GetLocalListVersion": _CS,
        "RemoteStartTransaction": _CS,
        "RemoteStopTransaction": _CS,
        "ReserveNow": _CS,
        "Reset": _CS,
        "SendLocalList": _CS,
        "SetChargingProfile": _CS,
        "TriggerMessage": _CS,
        "UnlockConnector": _CS,
        "UpdateFirmware": _CS,
        # Security whitepaper ed. 3 §4: initiated by the charge point
        "LogStatusNotification": _CP,
        "SecurityEventNotification": _CP,
        "SignCertificate": _CP,
        "SignedFirmwareStatusNotification": _CP,
        # Security whitepaper ed. 3 §4: initiated by the central system
        "CertificateSigned": _CS,
        "DeleteCertificate": _CS,
        "ExtendedTriggerMessage": _CS,
        "GetInstalledCertificateIds": _CS,
        "GetLog": _CS,
        "InstallCertificate": _CS,
        "SignedUpdateFirmware": _CS,
    }
)

#: The longest action name in the table; anything longer is unknown without a lookup.
MAX_ACTION_LENGTH = max(map(len, ACTIONS))

#: The official schema names: each action's request and its ``...Response``.
SCHEMA_NAMES: frozenset[str] = frozenset(ACTIONS) | frozenset(f"{action}Response" for action in ACTIONS)


def is_known(action: object) -> bool:
    """Whether ``action`` is an OCPP 1.6 action of the table (any value from the wire may be passed)."""
    return isinstance(action, str) and len(action) <= MAX_ACTION_LENGTH and action in ACTIONS


def printable(text: str, limit: int = 40) -> str:
    """A hostile string made safe for a log line: repr, cut to ``limit`` characters."""
    return repr(text[:limit]) + ("..." if len(text) > limit else "")
