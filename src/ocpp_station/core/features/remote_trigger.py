"""Remote Trigger (OCPP 1.6 §5.17 TriggerMessage).

Not implemented yet (issue #4): ``supported`` stays False, so the profile is not announced in
SupportedFeatureProfiles and TriggerMessage is answered NotSupported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ocpp_station.core.context import Context

if TYPE_CHECKING:
    from ocpp_station.core.engine import Engine


class RemoteTrigger:
    PROFILE = "RemoteTrigger"
    supported = False

    def __init__(self, ctx: Context, engine: Engine) -> None:
        self.ctx = ctx
        self.engine = engine
