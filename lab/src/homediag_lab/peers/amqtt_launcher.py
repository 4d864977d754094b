"""Run amqtt, or hash its passwords: the lab's launcher, run by the amqtt venv's own Python.

Not imported by homediag or the lab: :mod:`homediag_lab.peers.amqtt` runs it
as a script with the interpreter of the venv amqtt is installed in
(``scripts/lib/setup.sh``), so it imports only the standard library and amqtt.

``hash``
    Read ``user<TAB>password`` lines on stdin (not argv: no password in the
    process list), print amqtt password-file lines (``user:argon2-hash``),
    hashed by the hasher amqtt verifies with (pwdlib's Argon2).
``run CONFIG.yaml --mqtt5 silent|hangup``
    Run amqtt's broker from ``CONFIG.yaml`` as ``amqtt -c`` does, but as an
    embedded MQTT 3.1.1 broker that knows nothing of MQTT 5 would: a CONNECT
    with protocol level 5 gets no CONNACK at all. ``silent`` keeps the
    connection open, reading and ignoring what comes, until the client
    leaves; ``hangup`` closes it at once. amqtt itself answers such a CONNECT
    with a 3.1.1 CONNACK "unacceptable protocol version", which is what
    ``amqtt -c`` does (the lab runs that for the other variants).
    Every other CONNECT reaches amqtt's own handler, bytes unchanged: the
    launcher reads the CONNECT packet off the stream, looks at its protocol
    level, and hands amqtt a stream that starts with those bytes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from typing import Any

_CONNECT = 0x10
_MQTT_311 = 4


async def _read_packet(reader: asyncio.StreamReader) -> bytes:
    """One whole MQTT control packet: fixed header, remaining length, body."""
    data = bytearray(await reader.readexactly(1))
    length, shift = 0, 0
    for _ in range(4):
        byte = (await reader.readexactly(1))[0]
        data.append(byte)
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    data += await reader.readexactly(length)
    return bytes(data)


def _protocol_level(packet: bytes) -> int | None:
    """The protocol level of a CONNECT packet, ``None`` for anything else."""
    if not packet or packet[0] & 0xF0 != _CONNECT:
        return None
    offset = 1
    while packet[offset] & 0x80:
        offset += 1
    offset += 1
    name_length = int.from_bytes(packet[offset : offset + 2], "big")
    level_at = offset + 2 + name_length
    return packet[level_at] if level_at < len(packet) else None


async def _pump(source: asyncio.StreamReader, sink: asyncio.StreamReader) -> None:
    try:
        while chunk := await source.read(65536):
            sink.feed_data(chunk)
    except (ConnectionError, OSError):
        pass
    finally:
        sink.feed_eof()


def _patch_broker(mode: str) -> None:
    from amqtt.broker import Broker  # type: ignore[import-not-found]  # noqa: PLC0415

    handle = Broker.stream_connected
    log = logging.getLogger("homediag-lab.amqtt")
    pumps: set[asyncio.Task[None]] = set()

    async def stream_connected(
        self: Any, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, listener_name: str
    ) -> None:
        try:
            first = await _read_packet(reader)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        level = _protocol_level(first)
        if level is not None and level > _MQTT_311:
            peer = writer.get_extra_info("peername")
            log.warning("MQTT %s CONNECT from %s: no CONNACK (%s)", level, peer, mode)
            if mode == "silent":
                with contextlib.suppress(ConnectionError, OSError):
                    while await reader.read(65536):
                        pass  # read and drop until the client leaves
            writer.close()
            return
        replay = asyncio.StreamReader()
        replay.feed_data(first)
        pump = asyncio.ensure_future(_pump(reader, replay))
        pumps.add(pump)
        pump.add_done_callback(pumps.discard)
        await handle(self, replay, writer, listener_name)

    Broker.stream_connected = stream_connected


def _run(config_path: str, mode: str) -> int:
    from amqtt.broker import Broker  # noqa: PLC0415
    from amqtt.utils import read_yaml_config  # type: ignore[import-not-found]  # noqa: PLC0415

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("transitions").setLevel(logging.WARNING)
    _patch_broker(mode)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    broker = Broker(read_yaml_config(config_path), loop=loop)
    loop.run_until_complete(broker.start())
    print("ready: amqtt (MQTT 5 CONNECT: no CONNACK, %s)" % mode, flush=True)  # noqa: UP031
    loop.run_forever()
    return 0


def _hash() -> int:
    from pwdlib import PasswordHash  # type: ignore[import-not-found]  # noqa: PLC0415
    from pwdlib.hashers.argon2 import Argon2Hasher  # type: ignore[import-not-found]  # noqa: PLC0415

    hasher = PasswordHash((Argon2Hasher(),))
    for line in sys.stdin.read().splitlines():
        user, _, password = line.partition("\t")
        print(f"{user}:{hasher.hash(password)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``hash`` or ``run`` (see the module's docstring)."""
    parser = argparse.ArgumentParser(prog="amqtt_launcher.py")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("hash")
    running = sub.add_parser("run")
    running.add_argument("config")
    running.add_argument("--mqtt5", choices=("silent", "hangup"), required=True)
    args = parser.parse_args(argv)
    if args.command == "hash":
        return _hash()
    return _run(args.config, args.mqtt5)


if __name__ == "__main__":
    sys.exit(main())
