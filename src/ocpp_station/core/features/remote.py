"""RemoteStartTransaction and RemoteStopTransaction (OCPP 1.6 §5.11, §5.12)."""

from __future__ import annotations

from typing import Any

from msgspec import UnsetType

from ocpp_station.core.context import Context
from ocpp_station.core.features.base import Feature, answers
from ocpp_station.core.features.smart_charging import usable_tx_profile
from ocpp_station.core.features.transactions import Transactions
from ocpp_station.wire.frames import Call
from ocpp_station.wire.messages import (
    Reason,
    RegistrationStatus,
    RemoteStartStopStatus,
    RemoteStartTransactionRequest,
    RemoteStartTransactionResponse,
    RemoteStopTransactionRequest,
    RemoteStopTransactionResponse,
)

_ACCEPTED_START = RemoteStartTransactionResponse(status=RemoteStartStopStatus.Accepted)
_REJECTED_START = RemoteStartTransactionResponse(status=RemoteStartStopStatus.Rejected)
_ACCEPTED_STOP = RemoteStopTransactionResponse(status=RemoteStartStopStatus.Accepted)
_REJECTED_STOP = RemoteStopTransactionResponse(status=RemoteStartStopStatus.Rejected)


class RemoteTransactions(Feature):
    __slots__ = ("ctx", "transactions")

    def __init__(self, ctx: Context, transactions: Transactions) -> None:
        self.ctx = ctx
        self.transactions = transactions

    @answers(RemoteStartTransactionRequest)
    def _remote_start(
        self, request: RemoteStartTransactionRequest, call: Call
    ) -> RemoteStartTransactionResponse:
        """§5.11: behave as a local start with the idTag; AuthorizeRemoteTxRequests decides whether
        it is authorized first. A TxProfile in the request is kept for the transaction (§5.11 with
        erratum 3.41: only a TxProfile without transactionId the Charge Point can execute, OCTT TC_060).

        §5.13: a connector reserved for a parentIdTag takes an idTag whose parent the Local
        Authorization List and the Authorization Cache do not know, as a card does: Accepted, then an
        Authorize.req (whatever AuthorizeRemoteTxRequests says: the reservation check needs the
        parent), and the transaction starts when Authorize.conf names the reservation's parent."""
        if self.ctx.registration == RegistrationStatus.Pending:  # §4.2: not allowed while Pending
            return _REJECTED_START
        profile = request.charging_profile
        if not isinstance(profile, UnsetType) and not usable_tx_profile(self.ctx.config, profile):
            return _REJECTED_START
        requested = None if isinstance(request.connector_id, UnsetType) else request.connector_id
        if requested is not None and not 1 <= requested < len(self.ctx.connectors):
            return _REJECTED_START
        id_tag = request.id_tag
        # A connector reserved for another idTag does not take it (§5.13); its own reserved one first.
        usage = self.transactions.usage
        auth = self.transactions.auth
        target = usage.pick_connector(requested, id_tag, auth.parent_of(id_tag))
        parent_needed = False
        if target is None and auth.local_entry(id_tag) is None:
            # Its parent unknown here, it may be of a reservation's group: Authorize.conf tells.
            target = usage.pick_connector(requested, id_tag, None, unsure=True)
            parent_needed = target is not None
        if target is None or usage.waiting_on(target.id):
            return _REJECTED_START
        meta: dict[str, Any] = {"purpose": "remote", "connector": target.id}
        if not isinstance(profile, UnsetType):
            meta["chargingProfile"] = profile  # the transaction's tx_profile (Smart Charging installs it)
        authorize = parent_needed or self.ctx.config.get_bool("AuthorizeRemoteTxRequests")
        self.ctx.after_reply.append(lambda: self.transactions.begin(id_tag, meta, authorize=authorize))
        return _ACCEPTED_START

    @answers(RemoteStopTransactionRequest)
    def _remote_stop(
        self, request: RemoteStopTransactionRequest, call: Call
    ) -> RemoteStopTransactionResponse:
        """§5.12: equal to a local stop, reason Remote."""
        if self.ctx.registration == RegistrationStatus.Pending:
            return _REJECTED_STOP
        tx = self.transactions.by_transaction_id(request.transaction_id)
        if tx is None:
            return _REJECTED_STOP
        connector_id = tx.connector_id
        self.ctx.after_reply.append(lambda: self.transactions.stop(connector_id, Reason.Remote))
        return _ACCEPTED_STOP
