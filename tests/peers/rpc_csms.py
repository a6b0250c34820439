"""Drive the independent CSMS peer (npm ``ocpp-rpc`` in strict mode, ``tests/peers/ocpp_rpc/csms.js``).

The peer is a Node process: commands go to its stdin, one JSON object a line, and every event it
sees comes back on stdout the same way (line protocol: ``tests/peers/ocpp_rpc/README.md``).
:class:`RpcCsms` keeps every event in :attr:`RpcCsms.events`; tests wait for the ones they expect and
end with ``assert peer.errors() == []``: no schema failure, no bad frame, no CALLERROR we caused.

Test modules wrap :func:`running_rpc_csms` in a fixture and skip when :data:`PEER_MISSING` says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

PEER = Path(__file__).resolve().parent / "ocpp_rpc"
NODE = shutil.which("node")
#: Why the peer cannot run here, or None when it can.
PEER_MISSING: str | None = (
    None
    if NODE is not None and (PEER / "node_modules" / "ocpp-rpc").exists()
    else "node or tests/peers/ocpp_rpc/node_modules missing (scripts/setup --with-peers)"
)

Event = dict[str, Any]
Predicate = Callable[[Event], bool]


class RpcCsms:
    """One running ``csms.js``: its events so far, and CALLs sent to a connected charge point."""

    def __init__(self, proc: asyncio.subprocess.Process, port: int) -> None:
        self.proc = proc
        self.port = port
        self.events: list[Event] = []
        self._changed = asyncio.Event()
        self._tokens = itertools.count(1)
        self._reader = asyncio.create_task(self._read())

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ocpp/"

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            self.events.append(json.loads(line))
            self._changed.set()

    async def wait_for(self, predicate: Predicate, timeout: float = 15, since: int = 0) -> Event:
        """The first event from index ``since`` on that matches; waits up to ``timeout`` seconds."""

        async def scan() -> Event:
            seen = since
            while True:
                for event in self.events[seen:]:
                    if predicate(event):
                        return event
                seen = max(seen, len(self.events))
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(scan(), timeout)

    async def call(self, identity: str, action: str, params: dict[str, Any]) -> Event:
        """Send a CALL to ``identity``; returns the ``result`` or ``callError`` event answering it."""
        assert self.proc.stdin is not None
        token = next(self._tokens)
        command = {"cmd": "call", "identity": identity, "action": action, "params": params, "id": token}
        self.proc.stdin.write((json.dumps(command) + "\n").encode())
        await self.proc.stdin.drain()
        return await self.wait_for(
            lambda e: e.get("event") in ("result", "callError") and e.get("id") == token
        )

    async def result(self, identity: str, action: str, params: dict[str, Any]) -> dict[str, Any]:
        """Send a CALL; its CALLRESULT payload, which ocpp-rpc found schema-valid (else fail)."""
        answer = await self.call(identity, action, params)
        assert answer["event"] == "result", answer
        result: dict[str, Any] = answer["result"]
        return result

    async def set_boot_status(self, status: str) -> None:
        """Answer every later BootNotification with ``status`` (Accepted, Pending or Rejected)."""
        assert self.proc.stdin is not None
        token = next(self._tokens)
        command = {"cmd": "bootStatus", "status": status, "id": token}
        self.proc.stdin.write((json.dumps(command) + "\n").encode())
        await self.proc.stdin.drain()
        await self.wait_for(lambda e: e.get("event") == "bootStatus" and e.get("id") == token)

    def index(self, event: Event) -> int:
        """Where ``event`` is in :attr:`events` (by identity: two equal events are told apart)."""
        return next(i for i, e in enumerate(self.events) if e is event)

    def calls(self, action: str, since: int = 0) -> list[Event]:
        """The CALLs of ``action`` the charge point sent, from event index ``since`` on."""
        return [e for e in self.events[since:] if is_call(action)(e)]

    def errors(self) -> list[Event]:
        """Everything that went wrong in OCPP: schema failures, bad frames, CALLERRORs we answered with.
        A websocket upgrade aborted by a reset (a test dropping the station's network while it
        reconnects) is the transport, not OCPP: not counted."""
        return [
            e
            for e in self.events
            if (e.get("event") == "error" and e.get("kind") != "upgradeAborted")
            or (e.get("event") == "reply" and "error" in e)
        ]


def is_call(action: str) -> Predicate:
    """A CALL of ``action`` from the charge point."""
    return lambda e: e.get("event") == "call" and e.get("action") == action


@contextlib.asynccontextmanager
async def running_rpc_csms(valid_tags: str = "GOOD1,GOOD2") -> AsyncIterator[RpcCsms]:
    """A fresh ``csms.js`` on a free port, stopped on exit; only ``valid_tags`` are Accepted."""
    assert NODE is not None, PEER_MISSING
    proc = await asyncio.create_subprocess_exec(
        NODE,
        str(PEER / "csms.js"),
        "--port",
        "0",
        "--valid-tags",
        valid_tags,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        first = json.loads(await asyncio.wait_for(proc.stdout.readline(), 20))
        assert first["event"] == "listening", first
        peer = RpcCsms(proc, first["port"])
        try:
            yield peer
        finally:
            peer._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await peer._reader
    finally:
        if proc.returncode is None:
            proc.terminate()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(proc.wait(), 5)
