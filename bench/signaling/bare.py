"""A bare relay of the room protocol (CONTRACT §4) written with `websockets` alone: the
yardstick `bench.signaling` measures the platform against, in the same run with the same
client. It keeps everything in memory of one process, checks a ticket against the list it
was given (single use), and does what the benchmark's client needs of the protocol:
`welcome` (the mediator in the room, parties in the lobby), `knock`, `admit` ->
`admitted` and `peer-joined`, `signal` relayed only inside the room, `ping`/`pong`,
`peer-left`. No database, no audit, no authentication beyond the ticket: what is left
of the platform's cost over this is the price of those.

    python -m bench.signaling.bare --port 8765 --spec rooms.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit


@dataclass
class Conn:
    peer_id: str
    role: str
    name: str
    ws: object
    in_room: bool = False


@dataclass
class Room:
    peers: dict[str, Conn] = field(default_factory=dict)

    def present(self) -> list[Conn]:
        return [c for c in self.peers.values() if c.in_room]


def public(c: Conn) -> dict:
    return {"peer_id": c.peer_id, "name": c.name, "role": c.role}


class Relay:
    def __init__(self, spec: list[dict]) -> None:
        # ticket -> (session id, role); a ticket is consumed by its first use.
        self.tickets: dict[str, tuple[int, str]] = {
            token: (room["session"], role)
            for room in spec
            for role, token in room["tickets"].items()
        }
        self.rooms: dict[int, Room] = {}

    async def handler(self, ws) -> None:
        path = ws.request.path
        parts = urlsplit(path)
        ticket = (parse_qs(parts.query).get("ticket") or [""])[0]
        found = self.tickets.pop(ticket, None)
        if found is None:
            await ws.send(json.dumps({"type": "error", "code": "unauthenticated"}))
            await ws.close(4401)
            return
        session_id, role = found
        room = self.rooms.setdefault(session_id, Room())
        me = Conn(peer_id=secrets.token_hex(8), role=role, name=role, ws=ws)
        me.in_room = role == "mediator"
        room.peers[me.peer_id] = me
        others = [public(c) for c in room.present() if c is not me] if me.in_room else []
        await ws.send(
            json.dumps(
                {
                    "type": "welcome",
                    "peer_id": me.peer_id,
                    "role": role,
                    "name": me.name,
                    "state": "room" if me.in_room else "lobby",
                    "peers": others,
                    "ice_servers": [],
                }
            )
        )
        if not me.in_room:
            for c in room.present():
                if c.role == "mediator":
                    await c.ws.send(json.dumps({"type": "knock", "peer": public(me)}))
        try:
            async for raw in ws:
                await self.on_message(room, me, raw)
        except Exception:  # noqa: BLE001 - a dropped client ends its loop, nothing else
            pass
        finally:
            room.peers.pop(me.peer_id, None)
            if me.in_room:
                for c in room.present():
                    await _send(c, {"type": "peer-left", "peer_id": me.peer_id})

    async def on_message(self, room: Room, me: Conn, raw: str) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            await _send(me, {"type": "error", "code": "bad_json"})
            return
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "signal":
            target = room.peers.get(message.get("to"))
            if not me.in_room or target is None or not target.in_room:
                await _send(me, {"type": "error", "code": "peer_not_visible"})
                return
            await _send(target, {"type": "signal", "from": me.peer_id, "data": message["data"]})
        elif kind == "admit" and me.role == "mediator":
            target = room.peers.get(message.get("peer_id"))
            if target is None or target.in_room:
                await _send(me, {"type": "error", "code": "not_in_lobby"})
                return
            present = room.present()
            target.in_room = True
            await _send(target, {"type": "admitted", "peers": [public(c) for c in present]})
            for c in present:
                await _send(c, {"type": "peer-joined", "peer": public(target)})
        elif kind == "ping":
            await _send(me, {"type": "pong"})
        else:
            await _send(me, {"type": "error", "code": "unknown_type"})


async def _send(c: Conn, message: dict) -> None:
    # The peer went away: its own loop cleans up.
    with contextlib.suppress(Exception):
        await c.ws.send(json.dumps(message))


async def serve(port: int, spec: list[dict]) -> None:
    from websockets.asyncio.server import serve as ws_serve

    relay = Relay(spec)
    # The same limits a browser's peer meets at Daphne: no server pings, a deep backlog.
    async with ws_serve(relay.handler, "127.0.0.1", port, ping_interval=None, backlog=2048):
        await asyncio.get_running_loop().create_future()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--spec", type=Path, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.port, json.loads(args.spec.read_text())))


if __name__ == "__main__":
    main()
