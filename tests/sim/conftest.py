"""Fixtures of the development CSMS tests: a CSMS on a free loopback port, an HTTP client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from ocpp_station.sim.csms import CentralSystem


@pytest.fixture
async def csms() -> AsyncIterator[CentralSystem]:
    async with CentralSystem(port=0, valid_id_tags=["GOOD"]) as system:
        yield system


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
