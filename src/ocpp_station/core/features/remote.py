"""RemoteStartTransaction and RemoteStopTransaction (OCPP 1.6 §5.11, §5.12)."""

from __future__ import annotations

from typing import Any

from ocpp_station.config.keys import ConfigValues
from ocpp_station.core.context import Context
from ocpp_station.core.features.base import Feature
from ocpp_station.core.features.smart_charging import within_key_limits
from ocpp_station.core.features.transactions import Transactions
from ocpp_station.scheduling import ChargingProfilePurpose, ProfileError, parse_charging_profile
from ocpp_station.wire.frames import Call


def _usable_tx_profile(config: ConfigValues, wire: Any) -> bool:
    """§5.11 with erratum 3.41: the purpose SHALL be TxProfile and transactionId SHALL NOT be set;
    and the profile must be one the Charge Point can execute (§7.8, §9.4 limits)."""
    try:
        profile = parse_charging_profile(wire)
    except ProfileError:
        return False
    return (
        profile.purpose is ChargingProfilePurpose.TxProfile
        and profile.transaction_id is None
        and within_key_limits(config, profile)
    )


class RemoteTransactions(Feature):
    def __init__(self, ctx: Context, transactions: Transactions) -> None:
        self.ctx = ctx
        self.transactions = transactions
        ctx.route("RemoteStartTransaction", incoming=self._remote_start)
        ctx.route("RemoteStopTransaction", incoming=self._remote_stop)

    def _remote_start(self, call: Call) -> dict[str, Any]:
        """§5.11: behave as a local start with the idTag; AuthorizeRemoteTxRequests decides whether
        it is authorized first. A TxProfile in the request is kept for the transaction.

        §5.13: a connector reserved for a parentIdTag takes an idTag whose parent the Local
        Authorization List and the Authorization Cache do not know, as a card does: Accepted, then an
        Authorize.req (whatever AuthorizeRemoteTxRequests says: the reservation check needs the
        parent), and the transaction starts when Authorize.conf names the reservation's parent."""
        payload = call.payload
        if self.ctx.registration == "Pending":  # §4.2: not allowed while Pending
            return {"status": "Rejected"}
        profile = payload.get("chargingProfile")
        if profile is not None and not _usable_tx_profile(self.ctx.config, profile):
            return {"status": "Rejected"}  # OCTT TC_060
        requested = payload.get("connectorId")
        if requested is not None and not 1 <= requested < len(self.ctx.connectors):
            return {"status": "Rejected"}
        id_tag = payload["idTag"]
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
            return {"status": "Rejected"}
        meta: dict[str, Any] = {"purpose": "remote", "connector": target.id}
        if profile is not None:
            meta["chargingProfile"] = profile
        authorize = parent_needed or self.ctx.config.get_bool("AuthorizeRemoteTxRequests")
        self.ctx.after_reply.append(lambda: self.transactions.begin(id_tag, meta, authorize=authorize))
        return {"status": "Accepted"}

    def _remote_stop(self, call: Call) -> dict[str, Any]:
        """§5.12: equal to a local stop, reason Remote."""
        if self.ctx.registration == "Pending":
            return {"status": "Rejected"}
        tx = self.transactions.by_transaction_id(call.payload["transactionId"])
        if tx is None:
            return {"status": "Rejected"}
        connector_id = tx.connector_id
        self.ctx.after_reply.append(lambda: self.transactions.stop(connector_id, "Remote"))
        return {"status": "Accepted"}
