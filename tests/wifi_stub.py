"""The lab's Wi-Fi stand-in: a stub ``iw`` whose link a test changes while it runs.

Nothing here has a Wi-Fi radio, so the installer's laptop gets an ``iw``
first on its PATH that names the lab interface (``eth0``) as wireless and
prints **real captured outputs**, with the BSSID, frequency and signal taken
from a small JSON state file the test rewrites (through a fault
:class:`~homediag_lab.Schedule`) to roam, change channel, weaken or drop:

- ``iw dev``: ``tests/fixtures/wifi/linux/iw-dev-ath10k-idle.txt`` (OpenWrt,
  ath10k-ct, see its ``.toml``), ``wlan0`` renamed to the lab interface;
- ``iw dev IF link``: ``tests/fixtures/wifi/linux/iw-link-vht-redacted.txt``
  (a Linux laptop on 5300 MHz, 802.11ac, see its ``.toml``); the poster's
  ``xx:xx`` placeholder becomes the state's BSSID, ``freq: 5300`` and
  ``signal: -60 dBm`` the state's, ``wlan0`` the lab interface;
- not associated: ``Not connected.``, iw's own words (``iw-idle-link.txt``);
- another interface: ``command failed: No such device (-19)``, exit 237, as
  iw fails; any other command fails the same way with ``Operation not
  supported (-95)``, so the probe's station/survey/scan dumps read nothing.

Everything else (the wifi probe, the watch sampler, the detector, the
store) is the real code; only the radio is stood in for.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import FIXTURES

__all__ = ["AP1", "AP2", "WifiStub"]

#: Two access points of one mesh: (BSSID, centre frequency in MHz).
AP1 = ("3c:a6:2f:4b:10:05", 5300)  # channel 60
AP2 = ("3c:a6:2f:4b:20:05", 5180)  # channel 36

_DEV = FIXTURES / "wifi/linux/iw-dev-ath10k-idle.txt"
_LINK = FIXTURES / "wifi/linux/iw-link-vht-redacted.txt"
_ANCHORS = ("Connected to xx:xx (on wlan0)", "freq: 5300", "signal: -60 dBm")

_SCRIPT = """#!{python} -IS
# The homediag lab's Wi-Fi stand-in (tests/wifi_stub.py): NOT a radio.
# Prints real iw captures; the link comes from {state}.
import json, random, sys
IFACE = {iface!r}
DEV = {dev!r}
LINK = {link!r}
args = sys.argv[1:]
try:
    with open({state!r}, encoding="utf-8") as handle:
        state = json.load(handle)
except (OSError, ValueError):
    state = {{"connected": False}}
if args == ["dev"]:
    sys.stdout.write(DEV)
elif args[:1] == ["dev"] and len(args) > 1 and args[1] != IFACE:
    print("command failed: No such device (-19)", file=sys.stderr)
    sys.exit(237)
elif args == ["dev", IFACE, "link"]:
    if not state.get("connected"):
        print("Not connected.")
    else:
        signal = state["signal"] + random.randint(-state.get("jitter", 0), state.get("jitter", 0))
        sys.stdout.write(
            LINK.replace("Connected to xx:xx (on wlan0)", f"Connected to {{state['bssid']}} (on {{IFACE}})")
            .replace("freq: 5300", f"freq: {{state['freq']}}")
            .replace("signal: -60 dBm", f"signal: {{signal}} dBm")
        )
else:
    print("command failed: Operation not supported (-95)", file=sys.stderr)
    sys.exit(161)
"""


def _capture(path: Path) -> str:
    """A fixture's text without its ``#@`` provenance lines."""
    return "".join(
        line
        for line in path.read_text(encoding="utf-8").splitlines(keepends=True)
        if not line.startswith("#@")
    )


@dataclass
class WifiStub:
    """A stub ``iw`` in ``directory/bin`` and the state file it reads."""

    directory: Path
    interface: str = "eth0"

    @property
    def bin(self) -> Path:
        return self.directory / "bin"

    @property
    def state_path(self) -> Path:
        return self.directory / "wifi-state.json"

    def install(self, *, bssid: str = AP1[0], freq: int = AP1[1], signal: int = -60) -> WifiStub:
        """Write the stub and an associated, steady link (±2 dB of jitter, like a real one)."""
        link = _capture(_LINK)
        if not all(anchor in link for anchor in _ANCHORS):
            raise AssertionError(f"{_LINK} no longer has the text the stub rewrites")
        self.bin.mkdir(parents=True, exist_ok=True)
        self.set(connected=True, bssid=bssid, freq=freq, signal=signal, jitter=2)
        path = self.bin / "iw"
        path.write_text(
            _SCRIPT.format(
                python=sys.executable,
                iface=self.interface,
                dev=_capture(_DEV).replace("wlan0", self.interface),
                link=link,
                state=str(self.state_path),
            ),
            encoding="utf-8",
        )
        path.chmod(0o755)
        return self

    def env_path(self) -> str:
        """A PATH with the stub first."""
        return f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}"

    def set(self, **changes: object) -> None:
        """Change the link (atomically: the stub never reads half a state)."""
        state: dict[str, object] = {}
        if self.state_path.exists():
            state = json.loads(self.state_path.read_text(encoding="utf-8"))
        state.update(changes)
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state), encoding="utf-8")
        os.replace(tmp, self.state_path)

    # The faults, for a Schedule.
    def roam(self, ap: tuple[str, int]) -> None:
        self.set(connected=True, bssid=ap[0], freq=ap[1])

    def channel(self, freq: int) -> None:
        self.set(freq=freq)

    def disconnect(self) -> None:
        self.set(connected=False)

    def reconnect(self) -> None:
        self.set(connected=True)

    def signal(self, dbm: int) -> None:
        self.set(signal=dbm)
