"""The development CSMS's web page: ``GET /`` and its assets under ``/ui/``.

The page (``sim/static/csms.html``, ``csms.js``, ``csms.css``: plain HTML, CSS and an ES module, no build
step, no network beyond the CSMS) lists the connected stations, shows the frame trace (filters by
station, action, direction and errors; pretty JSON on click; each CALL linked to its answer with the
latency) and sends any CSMS-initiated message through ``POST /api/stations/{id}/call``, its form filled
with :func:`call_examples`. It keeps itself current from ``GET /api/events`` (Server-Sent Events,
:class:`~ocpp_station.sim.csms_api.EventHub`); the browser's EventSource reconnects by itself when the
CSMS restarts. Everything from the wire is shown with ``textContent``, never parsed as HTML.
"""

from __future__ import annotations

import copy
from importlib.resources import files
from typing import Final

from aiohttp import web

from ocpp_station.core.clock import format_datetime
from ocpp_station.sim.examples import CENTRAL_SYSTEM_REQUESTS
from ocpp_station.sim.records import JsonDict
from ocpp_station.wire.actions import ACTIONS, Initiator

#: Every action whose request the Central System sends (OCPP 1.6 §5, security whitepaper ed. 3 §4),
#: in the order of :data:`~ocpp_station.wire.actions.ACTIONS`.
CSMS_ACTIONS: Final = tuple(a for a, who in ACTIONS.items() if Initiator.CENTRAL_SYSTEM in who)

_STATIC = files("ocpp_station.sim") / "static"
#: The page's assets, by the name served under ``/ui/``, and their content types.
ASSETS: Final = {
    "csms.js": "text/javascript",
    "csms.css": "text/css",
}
PAGE: Final = "csms.html"
#: The page runs only what it was served with (as the station's dashboard): no inline script,
#: nothing from another origin.
HEADERS: Final = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


def call_examples(http_url: str, now: float) -> dict[str, JsonDict]:
    """A schema-valid request of every action in :data:`CSMS_ACTIONS`, sorted by action, for the page's
    form: the shared examples (:data:`~ocpp_station.sim.examples.CENTRAL_SYSTEM_REQUESTS`) with what a
    live station can act on: files on this CSMS (``http_url``, its ``/files`` depot) and dates of ``now``."""
    examples = copy.deepcopy(CENTRAL_SYSTEM_REQUESTS)
    today = format_datetime(now)
    upload = f"{http_url}/files/diagnostics"
    examples["TriggerMessage"] = {"requestedMessage": "StatusNotification", "connectorId": 1}
    examples["ExtendedTriggerMessage"] = {"requestedMessage": "StatusNotification", "connectorId": 1}
    examples["GetDiagnostics"] = {"location": upload, "retries": 1, "retryInterval": 10}
    examples["GetLog"] = {"logType": "DiagnosticsLog", "requestId": 1, "log": {"remoteLocation": upload}}
    examples["UpdateFirmware"] = {
        "location": f"{http_url}/files/firmware/2.0.0.img",
        "retrieveDate": today,
        "retries": 1,
    }
    examples["SignedUpdateFirmware"]["firmware"] |= {
        "location": f"{http_url}/files/firmware/2.0.0.img",
        "retrieveDateTime": today,
    }
    examples["ReserveNow"]["expiryDate"] = format_datetime(now + 3600)
    return {action: examples[action] for action in sorted(CSMS_ACTIONS)}


def page_routes() -> list[web.RouteDef]:
    """``GET /`` (the page) and ``GET /ui/{name}`` (its assets); add them before the websocket catch-all."""
    return [web.get("/", _page), web.get("/ui/{name}", _asset)]


def _asset_response(name: str, content_type: str) -> web.Response:
    body = (_STATIC / name).read_bytes()
    return web.Response(
        body=body,
        content_type=content_type,
        charset="utf-8",
        headers=HEADERS,
    )


async def _page(request: web.Request) -> web.Response:
    if request.headers.get("Upgrade", "").lower() == "websocket":
        raise web.HTTPNotFound(text="no charge point id at the end of the path (OCPP-J 1.6 §3.1.1)\n")
    return _asset_response(PAGE, "text/html")


async def _asset(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    content_type = ASSETS.get(name)
    if content_type is None:
        raise web.HTTPNotFound(text=f"no asset {name!r}; the page is at /\n")
    return _asset_response(name, content_type)
