"""Drive the lab's Zigbee2MQTT-like publisher (:mod:`homediag_lab.services.z2m`) from a test.

``Zigbee2MqttStub(lab, devices=["lamp", "plug"], offline=["door"])`` starts
it inside a lab host's namespace (the broker's, by default, talking to it
over that namespace's loopback); ``device("lamp", "offline")``,
``bridge("offline")``, ``ha("offline")`` and ``crowd(6)`` return once the
broker has the message (or the connections), so a :class:`Schedule`'s
``happened`` times are when the fault really reached the broker.
"""

from __future__ import annotations

import select
import subprocess
import sys
from collections.abc import Iterable
from types import TracebackType
from typing import TYPE_CHECKING

from homediag.errors import LabError

if TYPE_CHECKING:
    from homediag_lab.lab import Lab

__all__ = ["Zigbee2MqttStub"]


class Zigbee2MqttStub:
    """One publisher process this object started (and stops, by its pid)."""

    def __init__(
        self,
        lab: Lab,
        *,
        devices: Iterable[str] = (),
        offline: Iterable[str] = (),
        legacy: Iterable[str] = (),
        role: str = "broker",
        broker: str = "127.0.0.1:1883",
    ) -> None:
        argv = [
            sys.executable,
            "-m",
            "homediag_lab.services.z2m",
            "--broker",
            broker,
            "--devices",
            ",".join(devices),
            "--offline",
            ",".join(offline),
            "--legacy",
            ",".join(legacy),
        ]
        self.proc = subprocess.Popen(
            lab.command(role, argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._expect("ready:", 20.0)

    def _expect(self, word: str, timeout: float) -> None:
        out = self.proc.stdout
        assert out is not None
        ready, _, _ = select.select([out], [], [], timeout)
        line = out.readline() if ready else ""
        if not line.startswith(word):
            self.close()
            raise LabError(f"the lab's Zigbee2MQTT stub did not answer {word!r}: {line.strip()!r}")

    def send(self, command: str, timeout: float = 10.0) -> None:
        """Send one command and wait for its ``ok``."""
        stdin = self.proc.stdin
        assert stdin is not None
        stdin.write(command + "\n")
        stdin.flush()
        self._expect("ok", timeout)

    def device(self, name: str, state: str) -> None:
        """Publish ``zigbee2mqtt/NAME/availability`` (retained)."""
        self.send(f"device {name} {state}")

    def bridge(self, state: str) -> None:
        """Publish ``zigbee2mqtt/bridge/state`` (retained)."""
        self.send(f"bridge {state}")

    def ha(self, state: str) -> None:
        """Publish ``homeassistant/status`` as Home Assistant's birth or last will."""
        self.send(f"ha {state}")

    def raw(self, topic: str, payload: str) -> None:
        """Publish ``payload`` to ``topic`` as given (retained): what a misbehaving device sends."""
        self.send(f"raw {topic} {payload}")

    def crowd(self, clients: int) -> None:
        """Hold ``clients`` extra idle connections to the broker (fewer closes some)."""
        self.send(f"crowd {clients}")

    def close(self) -> None:
        """Stop the publisher (``quit``, then SIGKILL to its pid after 3 s)."""
        if self.proc.poll() is None:
            try:
                if self.proc.stdin is not None:
                    self.proc.stdin.write("quit\n")
                    self.proc.stdin.close()
                self.proc.wait(timeout=3)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(timeout=3)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def __enter__(self) -> Zigbee2MqttStub:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
