"""A homediag probe in its own package: checks the NAS configured under ``[plugin.nas]``."""

from __future__ import annotations

from pydantic import BaseModel

import homediag


class NasFacts(BaseModel):
    """Whether the NAS's web interface accepted a connection."""

    host: homediag.IPAddress
    port: int
    status: str
    connect_ms: float | None = None


class NasProbe(homediag.Probe):
    """Reads ``[plugin.nas] host = "…", port = 5000`` from the homediag configuration."""

    name = "nas"
    description = "The NAS's web interface answers"
    timeout = 5.0

    def applicable(self, ctx: homediag.ProbeContext) -> str | None:
        return (
            None
            if ctx.config.plugin.get("nas", {}).get("host")
            else "no [plugin.nas] host configured"
        )

    async def run(self, ctx: homediag.ProbeContext) -> homediag.ProbeOutput:
        settings = ctx.config.plugin["nas"]
        host, port = str(settings["host"]), int(settings.get("port", 5000))
        result = await homediag.tcp_connect(host, port, timeout=3.0)
        facts = NasFacts(host=host, port=port, status=result.status, connect_ms=result.connect_ms)
        return homediag.ProbeOutput(facts=facts, summary=f"NAS {host}:{port} {result.status}")
