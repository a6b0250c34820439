"""The development CSMS's file depot: firmware images to download and a place for diagnostics uploads,
so UpdateFirmware and GetDiagnostics (OCPP 1.6 §5.19, §5.9) work against it with nothing else running.

* ``GET /files/firmware/<version>.img``: a valid simulated firmware image of that version
  (:mod:`ocpp_station.hardware.firmware`), made on request; ``GET /files/firmware/broken.img`` is
  one with a wrong checksum (InstallationFailed).
* ``POST /files/diagnostics`` (multipart/form-data, one file part) or ``PUT /files/diagnostics/<name>``:
  kept in memory (the newest 20), listed by ``GET /api/files/diagnostics`` and fetched back with
  ``GET /files/diagnostics/<name>``.
"""

from __future__ import annotations

from collections import OrderedDict

from aiohttp import BodyPartReader, web

from ocpp_station.hardware.firmware import make_image

#: Uploads kept; the oldest goes first.
KEEP = 20
MAX_UPLOAD = 64 * 1024 * 1024


class FileDepot:
    def __init__(self) -> None:
        #: Uploaded diagnostics by file name, oldest first.
        self.diagnostics: OrderedDict[str, bytes] = OrderedDict()

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/files/firmware/{version}.img", self._firmware),
            web.post("/files/diagnostics", self._post),
            web.put("/files/diagnostics/{name}", self._put),
            web.get("/files/diagnostics/{name}", self._get),
            web.get("/api/files/diagnostics", self._list),
        ]

    async def _firmware(self, request: web.Request) -> web.Response:
        version = request.match_info["version"]
        if version == "broken":
            image = bytearray(make_image("0.0.0", b"broken"))
            image[-10] ^= 0xFF  # the checksum no longer matches
            return web.Response(body=bytes(image), content_type="application/octet-stream")
        try:
            image = bytearray(make_image(version, b"simulated firmware " * 64))
        except ValueError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None
        return web.Response(body=bytes(image), content_type="application/octet-stream")

    def _keep(self, name: str, body: bytes) -> None:
        self.diagnostics.pop(name, None)
        self.diagnostics[name] = body
        while len(self.diagnostics) > KEEP:
            self.diagnostics.popitem(last=False)

    async def _post(self, request: web.Request) -> web.Response:
        if not request.content_type.startswith("multipart/"):
            raise web.HTTPBadRequest(text="expected multipart/form-data with one file part")
        reader = await request.multipart()
        async for part in reader:
            if isinstance(part, BodyPartReader) and part.filename:
                body = await part.read(decode=False)
                if len(body) > MAX_UPLOAD:
                    raise web.HTTPRequestEntityTooLarge(max_size=MAX_UPLOAD, actual_size=len(body))
                self._keep(part.filename, bytes(body))
                return web.Response(text="stored")
        raise web.HTTPBadRequest(text="no file part")

    async def _put(self, request: web.Request) -> web.Response:
        body = await request.read()
        self._keep(request.match_info["name"], body)
        return web.Response(status=201, text="stored")

    async def _get(self, request: web.Request) -> web.Response:
        body = self.diagnostics.get(request.match_info["name"])
        if body is None:
            raise web.HTTPNotFound()
        return web.Response(body=body, content_type="application/zip")

    async def _list(self, request: web.Request) -> web.Response:
        return web.json_response(
            [{"fileName": name, "bytes": len(body)} for name, body in self.diagnostics.items()]
        )
