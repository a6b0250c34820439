"""Local Auth List Management (OCPP 1.6 §3.5.2, §5.15 SendLocalList, §5.10 GetLocalListVersion, §9.2).

Not implemented yet (issue #4): ``supported`` stays False, so the profile is not announced in
SupportedFeatureProfiles and its messages are answered NotSupported.
"""

from __future__ import annotations

from typing import Any

from ocpp_station.core.context import Context
from ocpp_station.core.features.authorization import Authorization


class LocalAuthList:
    PROFILE = "LocalAuthListManagement"
    supported = False

    def __init__(self, ctx: Context, auth: Authorization) -> None:
        self.ctx = ctx
        self.auth = auth

    def restore(self, records: dict[str, Any]) -> None:
        """The list the store kept (records kind ``local_list``)."""
