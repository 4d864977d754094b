"""Run only the lan probe and print what the sweep did (used by bench/lan)."""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from typing import TYPE_CHECKING, cast

import homediag

if TYPE_CHECKING:  # typing only: importing the probe here would move its import out of the timing
    from homediag.facts.lan import LanFacts


async def main(config_path: str | None) -> None:
    config = homediag.load_config(config_path)
    start = time.monotonic()
    result = await homediag.run_probe("lan", config)
    facts = cast("LanFacts | None", result.facts)
    assert facts is not None, result.error
    sweep = facts.sweep
    print(
        json.dumps(
            {
                "hosts": len(facts.hosts),
                "targets": sweep.targets if sweep else None,
                "replies": sweep.replies if sweep else None,
                "sweep_s": sweep.duration_s if sweep else None,
                "probe_s": time.monotonic() - start,
                "skipped": facts.sweep_skipped,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else None))
