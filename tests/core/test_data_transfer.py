"""DataTransfer from the Central System (OCPP 1.6 §5.6), through the engine with a fake clock."""

from __future__ import annotations

from ocpp_station.core.settings import EngineSettings
from tests.core.harness import Harness

#: TC_062_CS step 2: what the Charge Point may answer ("Accepted is allowed, but the vendor should be
#: warned"; we do not accept what we do not know).
NOT_ACCEPTED = {"Rejected", "UnknownMessageId", "UnknownVendorId"}


def test_tc_062_data_transfer_to_a_charge_point_unknown_vendor() -> None:
    """OCTT TC_062_CS: a DataTransfer.req with a vendorId the Charge Point does not support."""
    seen: list[tuple[str | None, str | None]] = []

    def acme(message_id: str | None, data: str | None) -> tuple[str, str | None]:
        seen.append((message_id, data))
        return "Accepted", None

    h = Harness(EngineSettings(data_transfer_handlers={"com.acme": acme}))
    mark = h.mark()
    # Step 1: the tool sends a vendor-specific message for a vendorId we have no handler for.
    answer = h.csms_result("DataTransfer", {"vendorId": "org.example.unknown", "messageId": "x", "data": "y"})
    # Step 2: DataTransfer.conf, not Accepted (the harness checked it against the schema).
    assert answer["status"] in NOT_ACCEPTED
    assert answer == {"status": "UnknownVendorId"}
    # No other vendor's handler ran, nothing else went out.
    assert seen == []
    assert h.actions(mark) == []


def test_data_transfer_vendor_id_is_matched_exactly() -> None:
    """vendorId is compared as given: another case or a prefix is still an unknown vendor."""
    h = Harness(EngineSettings(data_transfer_handlers={"com.acme": lambda m, d: ("Accepted", d)}))
    for vendor_id in ("COM.ACME", "com.acme.sub", "com"):
        assert h.csms_result("DataTransfer", {"vendorId": vendor_id}) == {"status": "UnknownVendorId"}
    assert h.csms_result("DataTransfer", {"vendorId": "com.acme", "data": "ping"}) == {
        "status": "Accepted",
        "data": "ping",
    }


def test_data_transfer_failing_vendor_handler_is_rejected() -> None:
    """A vendor handler that raises answers Rejected; the station carries on."""

    def broken(message_id: str | None, data: str | None) -> tuple[str, str | None]:
        raise RuntimeError("vendor bug")

    h = Harness(EngineSettings(data_transfer_handlers={"com.acme": broken}))
    assert h.csms_result("DataTransfer", {"vendorId": "com.acme"}) == {"status": "Rejected"}
    assert h.csms_result("GetConfiguration", {"key": ["HeartbeatInterval"]})["configurationKey"]


def test_data_transfer_handler_status_outside_the_enumeration_is_an_internal_error() -> None:
    """A vendor handler answering a status DataTransfer.conf does not have (§7.20) is our bug: the
    CSMS gets InternalError, never an invalid DataTransfer.conf; absent and empty fields reach the
    handler as None and "" respectively."""
    seen: list[tuple[str | None, str | None]] = []

    def odd(message_id: str | None, data: str | None) -> tuple[str, str | None]:
        seen.append((message_id, data))
        return "Maybe", None

    h = Harness(EngineSettings(data_transfer_handlers={"com.acme": odd}))
    answer = h.csms_call("DataTransfer", {"vendorId": "com.acme", "messageId": ""})
    assert answer[0] == 4 and answer[2] == "InternalError", answer
    assert seen == [("", None)]
    assert h.csms_result("GetConfiguration", {"key": ["HeartbeatInterval"]})["configurationKey"]
