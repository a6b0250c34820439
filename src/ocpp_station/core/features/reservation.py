"""Reservation (OCPP 1.6 §3.11, §5.13 ReserveNow, §5.1 CancelReservation, §9.3).

Not implemented yet (issue #4): ``supported`` stays False, so the profile is not announced in
SupportedFeatureProfiles and its messages are answered NotSupported.
"""

from __future__ import annotations

from typing import Any

from ocpp_station.core.context import Context
from ocpp_station.core.features.status import StatusReporter
from ocpp_station.core.features.transactions import Transactions


class Reservations:
    PROFILE = "Reservation"
    supported = False

    def __init__(self, ctx: Context, transactions: Transactions, status: StatusReporter) -> None:
        self.ctx = ctx
        self.transactions = transactions
        self.status = status

    def restore(self, records: dict[str, Any]) -> None:
        """The reservations the store kept (records kind ``reservations``)."""
