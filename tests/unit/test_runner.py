"""The Runner: concurrency, ordering, timeouts, failures, cancellation, events.

These probes are written for the test and touch no network; the observer is
injected so that nothing of this machine is read either.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from pydantic import BaseModel

from homediag.config import Config
from homediag.runtime.context import ProbeContext
from homediag.runtime.events import (
    ProbeFinished,
    ProbeProgress,
    ProbeStarted,
    RunFinished,
    RunStarted,
)
from homediag.runtime.probe import Probe, ProbeOutput, Requirements
from homediag.session.runner import Runner
from tests.conftest import lab_observer


class Value(BaseModel):
    value: str


class Quick(Probe):
    def __init__(self, name: str, value: str = "ok", *, after: tuple[str, ...] = ()) -> None:
        self.name = name
        self.value = value
        self.requires = Requirements(after=after)

    async def run(self, ctx: ProbeContext) -> ProbeOutput:
        ctx.progress("working")
        return ProbeOutput(facts=Value(value=self.value), summary=f"{self.name} done")


class Rendezvous(Probe):
    """Two of these only finish if they run at the same time."""

    def __init__(self, name: str, mine: asyncio.Event, theirs: asyncio.Event) -> None:
        self.name, self.mine, self.theirs = name, mine, theirs
        self.timeout = 2.0

    async def run(self, ctx: ProbeContext) -> ProbeOutput:
        self.mine.set()
        await self.theirs.wait()
        return ProbeOutput(summary="met")


class Hang(Probe):
    def __init__(self, name: str = "hang", timeout: float = 30.0) -> None:
        self.name, self.timeout = name, timeout
        self.started = asyncio.Event()

    async def run(self, ctx: ProbeContext) -> ProbeOutput:
        self.started.set()
        await asyncio.sleep(3600)
        return ProbeOutput()


class Boom(Probe):
    name = "boom"

    async def run(self, ctx: ProbeContext) -> ProbeOutput:
        raise ConnectionResetError(104, "Connection reset by peer")


class ReadsEarlier(Probe):
    name = "reader"
    requires = Requirements(after=("writer",))

    async def run(self, ctx: ProbeContext) -> ProbeOutput:
        earlier = ctx.results.facts("writer", Value)
        return ProbeOutput(facts=Value(value=f"saw {earlier.value if earlier else None}"))


def runner(*probes: Probe, timeout: float = 15.0) -> Runner:
    return Runner(
        Config.model_validate({"run": {"timeout": timeout}}), probes=probes, observer=lab_observer()
    )


async def test_independent_probes_run_concurrently() -> None:
    a, b = asyncio.Event(), asyncio.Event()
    bundle = (await runner(Rendezvous("a", a, b), Rendezvous("b", b, a)).run()).bundle
    assert {n: p.status for n, p in bundle.probes.items()} == {"a": "completed", "b": "completed"}


async def test_dependent_probe_starts_after_and_reads_facts() -> None:
    bundle = (await runner(ReadsEarlier(), Quick("writer", "42")).run()).bundle
    assert bundle.probes["reader"].data == {"value": "saw 42"}
    assert bundle.probes["writer"].started_at <= bundle.probes["reader"].started_at  # type: ignore[operator]


async def test_probe_timeout_is_recorded_and_others_complete() -> None:
    bundle = (await runner(Hang(timeout=0.2), Quick("fine")).run()).bundle
    hang = bundle.probes["hang"]
    assert hang.status == "timeout"
    assert hang.error is not None and hang.error.type == "TimeoutError"
    assert "its timeout" in hang.error.message
    assert bundle.probes["fine"].status == "completed"
    assert any(f.id == "homediag.probe_timeout" for f in bundle.findings)


async def test_global_deadline_bounds_every_probe() -> None:
    bundle = (await runner(Hang("h1"), Hang("h2"), Quick("fine"), timeout=0.3).run()).bundle
    assert bundle.probes["h1"].status == bundle.probes["h2"].status == "timeout"
    assert "deadline" in bundle.probes["h1"].error.message  # type: ignore[union-attr]
    assert bundle.probes["fine"].status == "completed"


async def test_raising_probe_is_an_error_with_type_and_message() -> None:
    bundle = (await runner(Boom(), Quick("fine")).run()).bundle
    boom = bundle.probes["boom"]
    assert boom.status == "error"
    assert boom.error is not None
    assert (boom.error.type, boom.error.message) == (
        "ConnectionResetError",
        "Connection reset by peer",
    )
    assert bundle.probes["fine"].status == "completed"
    assert any(
        f.id == "homediag.probe_error" and "ConnectionResetError" in f.detail
        for f in bundle.findings
    )


async def test_error_inside_a_probes_own_taskgroup_reports_the_real_error() -> None:
    class Grouped(Probe):
        name = "grouped"

        async def run(self, ctx: ProbeContext) -> ProbeOutput:
            async def fail() -> None:
                raise PermissionError(13, "Operation not permitted")

            async with asyncio.TaskGroup() as tg:
                tg.create_task(fail())
            return ProbeOutput()

    bundle = (await runner(Grouped()).run()).bundle
    assert bundle.probes["grouped"].error.type == "PermissionError"  # type: ignore[union-attr]
    assert "Operation not permitted" in bundle.probes["grouped"].error.message  # type: ignore[union-attr]


async def test_cancel_records_cancelled_and_still_builds_the_bundle() -> None:
    hang = Hang()
    r = runner(hang, Quick("fine"))
    task = asyncio.create_task(r.run())
    await hang.started.wait()
    r.cancel()
    bundle = (await task).bundle
    assert bundle.probes["hang"].status == "cancelled"
    assert bundle.probes["fine"].status == "completed"
    assert r.cancelled


async def test_outside_cancellation_propagates_but_keeps_a_partial_bundle() -> None:
    hang = Hang()
    r = runner(hang, Quick("fine"))
    task = asyncio.create_task(r.run())
    await hang.started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert r.result is not None and r.result.cancelled
    assert r.result.bundle.probes["hang"].status == "cancelled"


async def test_requirements_not_met_means_skipped() -> None:
    class NeedsRoot(Quick):
        def __init__(self, name: str) -> None:
            super().__init__(name)
            self.requires = Requirements(privileged=True)

    class NothingToDo(Quick):
        def applicable(self, ctx: ProbeContext) -> str | None:
            return "no broker configured"

    bundle = (await runner(NeedsRoot("root"), NothingToDo("idle")).run()).bundle
    assert (bundle.probes["root"].status, bundle.probes["root"].summary) == (
        "skipped",
        "needs administrator/root privileges",
    )
    assert (bundle.probes["idle"].status, bundle.probes["idle"].summary) == (
        "skipped",
        "no broker configured",
    )


async def test_events_stream_in_order_and_end_with_the_bundle() -> None:
    r = runner(Quick("one"), Boom())
    events = [e async for e in r.events()]
    assert isinstance(events[0], RunStarted) and events[0].probes == ("one", "boom")
    assert isinstance(events[-1], RunFinished) and events[-1].result is r.result
    assert r.result is not None and events[-1].bundle is r.result.bundle
    started = [e.probe for e in events if isinstance(e, ProbeStarted)]
    finished = {e.probe: e.status for e in events if isinstance(e, ProbeFinished)}
    assert sorted(started) == ["boom", "one"]
    assert finished == {"one": "completed", "boom": "error"}
    assert any(isinstance(e, ProbeProgress) and e.message == "working" for e in events)
    for name in ("one", "boom"):
        assert events.index(
            next(e for e in events if isinstance(e, ProbeStarted) and e.probe == name)
        ) < events.index(
            next(e for e in events if isinstance(e, ProbeFinished) and e.probe == name)
        )


async def test_leaving_the_event_stream_early_cancels_the_run() -> None:
    hang = Hang()
    r = runner(hang)
    async with contextlib.aclosing(r.events()) as events:
        async for event in events:
            if isinstance(event, ProbeStarted):
                break
    assert r.cancelled
    assert r.result is not None and r.result.bundle.probes["hang"].status == "cancelled"


async def test_a_runner_runs_once() -> None:
    r = runner(Quick("one"))
    await r.run()
    with pytest.raises(RuntimeError, match="runs once"):
        await r.run()


async def test_internet_probe_without_a_route_fails_at_once_without_sending() -> None:
    from homediag.probes.internet import InternetProbe

    observer = lab_observer(gateways=[])
    config = Config.model_validate(
        {"internet": {"endpoints": ["https://api.cloud.test", "https://203.0.113.10"]}}
    )
    r = Runner(config, probes=[InternetProbe()], observer=observer)
    bundle = (await r.run()).bundle
    record = bundle.probes["internet"]
    assert record.status == "completed"
    assert record.summary == "no default route: the internet cannot be reached"
    assert record.duration_s is not None and record.duration_s < 0.5
    assert record.data["no_route"] is True
    assert all(e["error"] == "no default route" for e in record.data["endpoints"])
    assert {f.id for f in bundle.findings} >= {"internet.no_path", "host.no_default_gateway"}


async def test_warm_up_runs_once_before_the_probes_and_cannot_break_the_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[str] = []

    class Records(Quick):
        async def run(self, ctx: ProbeContext) -> ProbeOutput:
            calls.append(self.name)
            return await super().run(ctx)

    class WarmsUp(Runner):
        def warm_up(self) -> None:
            calls.append("warm_up")
            raise RuntimeError("warm-up went wrong")

    run = WarmsUp(Config(), probes=[Records("one"), Records("two")], observer=lab_observer())
    bundle = (await run.run()).bundle
    assert calls[0] == "warm_up" and sorted(calls[1:]) == ["one", "two"]
    assert [r.status for r in bundle.probes.values()] == ["completed", "completed"]
    assert "warm_up() failed" in caplog.text


async def test_probes_waiting_for_each_other_are_errors_and_the_others_run() -> None:
    # A waits for B, B for A: neither can ever start. Before, the run hung
    # past its deadline; now both are recorded and the rest of the run is kept.
    r = runner(
        Quick("a", after=("b",)),
        Quick("b", after=("a",)),
        Quick("c", after=("a",)),
        Quick("fine"),
        timeout=2.0,
    )
    async with asyncio.timeout(5):
        bundle = (await r.run()).bundle
    for name in ("a", "b"):
        record = bundle.probes[name]
        assert record.status == "error"
        assert record.error is not None and record.error.type == "ProbeDependencyError"
        assert "a -> b -> a" in record.error.message or "b -> a -> b" in record.error.message
    assert bundle.probes["fine"].status == "completed"
    # c waits for a, which is recorded as failed: c runs (as after any failed dependency).
    assert bundle.probes["c"].status == "completed"
