"""Security events the shell sees, end to end (OCPP 1.6 security whitepaper edition 3, §8, A04), over real
TLS and websockets on 127.0.0.1 with a trustme PKI: a refused TLS handshake and HTTP 401 reach the
development CSMS as SecurityEventNotification once the station connects."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import trustme

from ocpp_station.sim.csms import CentralSystem
from tests.stations import StationFactory, notified
from tests.transport.test_tls import KEY, ca_file, server_ctx, tls_config, wait_log


async def test_A00_FR_309_A04_a_tls_refusal_is_notified_once_the_station_connects(
    tmp_path: Path, start_station: StationFactory, caplog: pytest.LogCaptureFixture
) -> None:
    ca = trustme.CA()
    # First a CSMS whose certificate comes from a CA the station does not trust: refused (A00.FR.309).
    async with CentralSystem(
        port=0, passwords={"CP_1": KEY}, ssl_context=server_ctx(trustme.CA().issue_cert("127.0.0.1"))
    ) as impostor:
        port = impostor.port
        with caplog.at_level(logging.INFO, "ocpp_station"):
            station = await start_station(
                tls_config(impostor.url, ca_file(ca, tmp_path)), wait_accepted=False
            )
            await wait_log(caplog, "InvalidCentralSystemCertificate", 2)
        assert station.state()["registration"] is None
    # Then the right one on the same address: the station connects and tells what happened.
    async with CentralSystem(
        port=port, passwords={"CP_1": KEY}, ssl_context=server_ctx(ca.issue_cert("127.0.0.1"))
    ) as csms:
        await station.wait_for(lambda s: s["registration"] == "Accepted", timeout=10)
        entry = await csms.wait_for(
            lambda e: (
                e.action == "SecurityEventNotification"
                and e.kind == "CALL"
                and e.payload.get("type") == "InvalidCentralSystemCertificate"
            )
        )
        assert "certificate" in entry.payload["techInfo"] and len(entry.payload["techInfo"]) <= 255
        await csms.wait_for(
            lambda e: (
                e.action == "SecurityEventNotification"
                and e.kind == "CALL"
                and e.payload.get("type") == "StartupOfTheDevice"
            )
        )
        # Refused at every attempt, notified once (the log has every attempt).
        calls = [
            e
            for e in csms.log
            if e.kind == "CALL" and e.payload.get("type") == "InvalidCentralSystemCertificate"
        ]
        assert len(calls) == 1


async def test_http_401_is_notified_as_failed_to_authentication_at_central_system(
    tmp_path: Path, start_station: StationFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """The CSMS rejects the credentials (HTTP 401): FailedToAuthenticationAtCentralSystem (§8, errata
    spelling), notified once the CSMS takes the key."""
    ca = trustme.CA()
    context = server_ctx(ca.issue_cert("127.0.0.1"))
    async with CentralSystem(
        port=0, passwords={"CP_1": "another-key-0123456789"}, ssl_context=context
    ) as first:
        port = first.port
        with caplog.at_level(logging.WARNING, "ocpp_station"):
            station = await start_station(tls_config(first.url, ca_file(ca, tmp_path)), wait_accepted=False)
            await wait_log(caplog, "FailedToAuthenticationAtCentralSystem", 1)
        assert not notified(first, "FailedToAuthenticationAtCentralSystem")
    async with CentralSystem(port=port, passwords={"CP_1": KEY}, ssl_context=context) as csms:
        await station.wait_for(lambda s: s["registration"] == "Accepted", timeout=10)
        entry = await csms.wait_for(
            lambda e: e.kind == "CALL" and e.payload.get("type") == "FailedToAuthenticationAtCentralSystem"
        )
        assert "401" in entry.payload["techInfo"]
