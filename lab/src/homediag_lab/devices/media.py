"""Media and office devices of the lab home: a Nest speaker (Cast), a Sonos player, a printer."""

from __future__ import annotations

from homediag_lab.devices.records import listener as _l
from homediag_lab.devices.records import service as _s
from homediag_lab.topology import Host

__all__ = ["nest_speaker", "printer", "sonos_player"]


def nest_speaker() -> Host:
    """A Google Nest Mini: Cast over TLS on 8009 with its own certificate."""
    return Host(
        "nest",
        "192.168.77.34",
        "f4:f5:d8:3a:7f:10",
        "Google-Nest-Mini-3a7f",
        listeners=(_l(8009, "cast", "self-signed"),),
        services=(
            _s(
                "_googlecast._tcp",
                "Google-Nest-Mini-3a7f10b2c4d5e6f7",
                8009,
                id="3a7f10b2c4d5e6f7a8b9",
                cd="D1E2F3A4B5C6",
                rm="",
                ve="05",
                md="Google Nest Mini",
                ic="/setup/icon.png",
                fn="Kitchen speaker",
                ca="199172",
                st="0",
                bs="FA8FCA3A1B2C",
                nf="1",
                rs="",
            ),
        ),
    )


def printer() -> Host:
    """A Brother laser printer: IPP and LPD, no server the lab runs."""
    return Host(
        "printer",
        "192.168.77.37",
        "3c:2a:f4:12:34:56",
        "BRW3C2AF4123456",
        services=(
            _s(
                "_ipp._tcp",
                "Brother HL-L2350DW series",
                631,
                txtvers="1",
                qtotal="1",
                rp="ipp/print",
                ty="Brother HL-L2350DW series",
                product="(Brother HL-L2350DW series)",
                pdl="application/octet-stream,image/urf,image/pwg-raster",
                UUID="e3248000-80ce-11db-8000-3c2af4123456",
            ),
            _s(
                "_printer._tcp",
                "Brother HL-L2350DW series",
                515,
                txtvers="1",
                qtotal="1",
                rp="duerqxesz5090",
                ty="Brother HL-L2350DW series",
            ),
        ),
    )


def sonos_player() -> Host:
    """A Sonos One: its UPnP description on 1400, Spotify Connect and AirPlay."""
    return Host(
        "sonos",
        "192.168.77.38",
        "00:0e:58:a1:b2:c3",
        "Sonos-000E58A1B2C3",
        listeners=(
            _l(
                1400,
                "sonos",
                model="Sonos One",
                model_number="S18",
                software="79.1-56030",
                room="Living Room",
                serial="00-0E-58-A1-B2-C3:5",
                udn="uuid:RINCON_000E58A1B2C301400",
            ),
        ),
        services=(
            _s(
                "_sonos._tcp",
                "Sonos-000E58A1B2C3",
                1443,
                info="/api/v1/players/RINCON_000E58A1B2C301400/info",
                vers="3",
                protovers="1.24.1",
            ),
            _s("_spotify-connect._tcp", "Living Room", 1400, CPath="/spotifyzc", VERSION="1.0"),
            _s(
                "_airplay._tcp",
                "Living Room",
                7000,
                deviceid="00:0E:58:A1:B2:C3",
                model="Sonos One",
                features="0x445F8A00,0x1C340",
                srcvers="366.0",
            ),
        ),
    )
