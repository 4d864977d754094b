"""Run only the mqtt probe and print its facts and wall time (used by bench/mqtt)."""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from typing import TYPE_CHECKING, cast

import homediag

if TYPE_CHECKING:  # typing only: importing the probe here would move its import out of the timing
    from homediag.facts.mqtt import MqttFacts


async def main(config_path: str) -> None:
    config = homediag.load_config(config_path)
    start = time.monotonic()
    result = await homediag.run_probe("mqtt", config, with_dependencies=False)
    wall = time.monotonic() - start
    facts = cast("MqttFacts | None", result.facts)
    assert facts is not None and facts.session is not None and facts.session.connected, result
    print(
        json.dumps(
            {
                "probe_s": wall,
                "connack_ms": facts.session.connack_ms,
                "latency": [s.model_dump() for s in facts.latency],
                "discovery": facts.ha_discovery_topics,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
