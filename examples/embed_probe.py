"""Embed homediag in your own asyncio program: run one probe, then watch a full run.

    python examples/embed_probe.py [CONFIG.toml]

The router probe pings your default gateway (about 20 small packets) and
asks it one DNS question; nothing else is contacted. ``homediag demo`` and
the tests run this inside the virtual home.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

import homediag


async def main(config_path: str | None) -> int:
    config = homediag.load_config(config_path)

    # 1. One probe, typed facts back (not redacted: this is your own program).
    result = await homediag.run_probe("router", config)
    print(f"router probe: {result.status}: {result.summary}")
    if isinstance(result.facts, homediag.RouterFacts):
        for gateway in result.facts.gateways:
            if gateway.ping is not None:
                print(
                    f"  {gateway.address}: loss {gateway.ping.loss_pct:g} %, avg {gateway.ping.rtt_avg_ms} ms"
                )

    # 2. A whole run of the network probes, streaming progress events.
    subset = config.model_copy(
        update={"run": config.run.model_copy(update={"probes": ["host", "router", "dns"]})}
    )
    async with contextlib.aclosing(homediag.diagnose_events(subset)) as events:
        async for event in events:
            if isinstance(event, homediag.ProbeFinished):
                print(f"  {event.probe:<8} {event.status:<10} {event.duration_s:.2f} s")
            elif isinstance(event, homediag.RunFinished):
                findings = event.bundle.findings
                print(
                    f"findings: {len(findings)}"
                    + "".join(f"\n  [{f.severity}] {f.title}" for f in findings)
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else None)))
