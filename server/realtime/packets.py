"""Socket.IO packets whose JSON is too deep still get an answer.

python-socketio decodes each packet (`Packet.decode`) before any handler of
ours runs, with the JSON module the server was given (`server.core.safejson`
here, which refuses nesting deeper than `MAX_DEPTH`). A packet whose JSON
fails there would be dropped with a logged traceback, and the client's ack
would never come. `GuardedPacket` keeps the packet instead, with its ack id,
and replaces the event with `MALFORMED_EVENT`, which the namespace answers
with a `validation_error` ack. A CONNECT whose auth is too deep becomes a
connect without a usable auth object, which the namespace refuses; any other
packet keeps no data.
"""

from __future__ import annotations

from typing import Any

from socketio import packet

from server.core.safejson import NestedTooDeep

#: The event name a too-deep event is delivered under (no client can send a NUL name
#: by accident; one that does gets the same refusal).
MALFORMED_EVENT = "\x00malformed"


class GuardedPacket(packet.Packet):  # type: ignore[misc]
    def decode(self, encoded_packet: Any) -> int:
        try:
            return int(super().decode(encoded_packet) or 0)
        except NestedTooDeep as exc:
            # `decode` has read the type, namespace and ack id before the JSON failed.
            kind = int(getattr(self, "packet_type", -1))
            data: Any
            if kind in (packet.EVENT, packet.BINARY_EVENT):
                self.packet_type, data = packet.EVENT, [MALFORMED_EVENT, str(exc)]
            elif kind == packet.CONNECT:
                data = str(exc)
            else:
                data = None  # an ack to a server emit: nothing of ours waits on it
            self.data = data
            return 0
