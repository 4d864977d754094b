"""Write your own probe and your own rule, register them, and run them with the built-ins.

    python examples/custom_probe.py HOST PORT [CONFIG.toml]

``PortProbe`` checks that a TCP service on your network answers (a NAS, a
camera recorder, a KNX gateway's web UI…). Its facts are a typed model whose
fields declare what kind of value they hold (``IPAddress``), so redaction
treats them correctly. ``PortRule`` turns the facts into a finding with a fix.

To ship a probe in a package instead, declare an entry point (see
``examples/probe_package``)::

    [project.entry-points."homediag.probes"]
    nas = "nas_probe:NasProbe"
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator

from pydantic import BaseModel

import homediag


class PortFacts(BaseModel):
    """What the probe measured."""

    host: homediag.IPAddress
    port: int
    status: str
    connect_ms: float | None = None
    error: str | None = None


class PortProbe(homediag.Probe):
    """Does HOST:PORT accept a TCP connection?"""

    name = "port"
    description = "A TCP service on the LAN answers"
    timeout = 5.0

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port

    async def run(self, ctx: homediag.ProbeContext) -> homediag.ProbeOutput:
        ctx.progress(f"connecting to {self.host}:{self.port}")
        result = await homediag.tcp_connect(self.host, self.port, timeout=3.0)
        facts = PortFacts(
            host=self.host,
            port=self.port,
            status=result.status,
            connect_ms=result.connect_ms,
            error=result.error,
        )
        return homediag.ProbeOutput(facts=facts, summary=f"{self.host}:{self.port} {result.status}")


SERVICE_DOWN = homediag.spec(
    "port.service_down",
    severity="warning",
    probe="port",
    title="The service does not accept connections",
    meaning="A TCP port that should be open refused or ignored the connection.",
    remediation="Check that the device is powered and the service is enabled; check its firewall.",
)


class PortRule:
    """Turns the port probe's facts into a finding."""

    name = "port"

    def analyze(self, bundle: homediag.Bundle) -> Iterator[homediag.Finding]:
        facts = homediag.probe_facts(bundle, "port", PortFacts)
        if facts is not None and facts.status != "open":
            yield SERVICE_DOWN.make(
                f"{facts.host}:{facts.port} {facts.status}: {facts.error}",
                {"host": facts.host, "port": facts.port},
            )


async def main(host: str, port: int, config_path: str | None) -> int:
    homediag.register_probe(PortProbe(host, port))
    config = homediag.load_config(config_path, overrides={"run.probes": ["host", "port"]})
    result = await homediag.diagnose(config, analyzers=[*homediag.builtin_analyzers(), PortRule()])
    bundle = result.bundle
    print(f"port probe: {bundle.probes['port'].status}: {bundle.probes['port'].summary}")
    for finding in bundle.findings:
        print(f"[{finding.severity}] {finding.id}: {finding.detail}")
    return 0 if not bundle.findings else 1


if __name__ == "__main__":
    raise SystemExit(
        asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else None))
    )
