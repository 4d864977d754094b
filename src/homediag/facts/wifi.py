"""Facts of the ``wifi`` probe: the observer's link and the networks it saw, whichever tool they came from."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from homediag.model.kinds import Ssid

__all__ = ["Band", "NearbyNetwork", "WifiFacts", "WifiLink"]


Band = Literal["2.4 GHz", "5 GHz", "6 GHz"]


class NearbyNetwork(BaseModel):
    """A network (one access point) the adapter saw in its last scan."""

    ssid: Ssid | None = None
    bssid: Ssid | None = None
    band: Band | None = None
    channel: int | None = None
    rssi_dbm: float | None = None


class WifiLink(BaseModel):
    """The observer's Wi-Fi connection."""

    interface: str
    connected: bool
    ssid: Ssid | None = None
    ssid_hidden: bool = Field(
        False, description="The OS withheld the network name (macOS without Location Services)."
    )
    bssid: Ssid | None = Field(None, description="The access point's radio (its MAC address).")
    ap_vendor: str | None = Field(None, description="The access point's vendor, from the BSSID.")
    band: Band | None = None
    channel: int | None = None
    frequency_mhz: float | None = None
    width_mhz: int | None = None
    standard: str | None = Field(None, description="802.11n/ac/ax/be, as negotiated.")
    security: str | None = None
    rssi_dbm: float | None = Field(None, description="Received signal strength.")
    rssi_estimated: bool = Field(
        False, description="Converted from a signal percentage (Windows, nmcli): approximate."
    )
    signal_percent: int | None = None
    noise_dbm: float | None = None
    snr_db: float | None = Field(None, description="Signal minus noise.")
    tx_rate_mbps: float | None = None
    rx_rate_mbps: float | None = None
    tx_packets: int | None = None
    tx_retries: int | None = None
    tx_failed: int | None = None
    beacon_loss: int | None = None
    retry_rate_pct: float | None = Field(None, description="Retries per transmitted packet, in %.")


class WifiFacts(BaseModel):
    """The Wi-Fi link of the observer and what its adapter saw around it."""

    platform: str
    tools: list[str] = Field(default_factory=list, description="The commands the facts came from.")
    interfaces: list[str] = Field(default_factory=list, description="Wireless interfaces found.")
    link: WifiLink | None = None
    supported_bands: list[Band] = Field(
        default_factory=list, description="Bands the adapter supports (empty: unknown)."
    )
    nearby: list[NearbyNetwork] = Field(default_factory=list)
    same_ssid_bands: list[Band] = Field(
        default_factory=list, description="Bands on which the connected network's name was seen."
    )
    unread: list[str] = Field(
        default_factory=list,
        description="Lines of the tools' output homediag could not read (bounded, clipped).",
    )
