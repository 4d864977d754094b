"""Run only the mdns probe and print when every instance was resolved (used by bench/mdns)."""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from typing import TYPE_CHECKING, cast

import homediag

if TYPE_CHECKING:  # typing only: importing the probe here would move its import out of the timing
    from homediag.facts.mdns import MdnsFacts


async def main(config_path: str, expected: int) -> None:
    config = homediag.load_config(config_path)
    start = time.monotonic()
    result = await homediag.run_probe("mdns", config)
    wall = time.monotonic() - start
    facts = cast("MdnsFacts | None", result.facts)
    assert facts is not None, result.error
    resolved = [i for i in facts.instances if i.resolved]
    print(
        json.dumps(
            {
                "instances": len(facts.instances),
                "resolved": len(resolved),
                "expected": expected,
                "all_resolved_s": max((i.resolved_ms or 0) for i in resolved) / 1000
                if resolved
                else None,
                "probe_s": wall,
                "stopped": facts.stopped,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
