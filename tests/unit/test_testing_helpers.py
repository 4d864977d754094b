"""homediag.testing: what an integrator uses to test a probe or a rule without a network."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from pydantic import BaseModel

import homediag
from homediag.testing import make_context, make_run, probe_result, router_result


class LossFacts(BaseModel):
    loss_pct: float


class LossProbe(homediag.Probe):
    name = "loss"
    requires = homediag.Requirements(after=("router",))

    async def run(self, ctx: homediag.ProbeContext) -> homediag.ProbeOutput:
        ctx.progress("reading the router's pings")
        router = ctx.results.facts("router", homediag.RouterFacts)
        assert router is not None and router.gateways[0].ping is not None
        return homediag.ProbeOutput(facts=LossFacts(loss_pct=router.gateways[0].ping.loss_pct))


async def test_a_probe_runs_against_a_made_context() -> None:
    said: list[str] = []
    ctx = make_context("loss", results={"router": router_result(loss_pct=7.5)}, progress=said)
    output = await LossProbe().run(ctx)
    assert output.facts == LossFacts(loss_pct=7.5)
    assert said == ["reading the router's pings"]
    # What the probe returned goes through the real pipeline like a run's.
    run = make_run({"loss": probe_result("loss", output.facts)})
    assert run.bundle.probes["loss"].data == {"loss_pct": 7.5}


def test_testing_is_reachable_as_an_attribute() -> None:
    assert homediag.testing.make_bundle is not None


def test_a_run_result_is_not_pickled_but_its_bundle_is() -> None:
    run = make_run({"router": router_result()}, secrets=["Tok3n-never-pickled"])
    with pytest.raises(TypeError, match="not pickled"):
        pickle.dumps(run)
    assert b"Tok3n-never-pickled" not in pickle.dumps(run.bundle)
    assert {run: 1}[run] == 1  # hashable: results compare by identity


def test_write_bundle_takes_extra_secrets_as_plain_strings(tmp_path: Path) -> None:
    bundle = make_run(
        {"router": router_result(evidence={"ping.txt": "sent: hunter2-extra"})}
    ).bundle
    with pytest.raises(homediag.RedactionError):
        homediag.write_bundle(bundle, tmp_path / "b.zip", secrets=["hunter2-extra"])
    assert not (tmp_path / "b.zip").exists()
    with pytest.raises(homediag.RedactionError):  # one string is one secret
        homediag.write_bundle(bundle, tmp_path / "b.zip", secrets="hunter2-extra")
    homediag.write_bundle(bundle, tmp_path / "b.zip", secrets=["not-in-there-at-all"])


def test_a_missing_optional_module_names_its_own_install() -> None:
    reason = homediag.Requirements(modules=("no_such_module_xyz",)).unmet(privileged=True)
    assert (
        reason == "needs the optional module 'no_such_module_xyz' (pip install no_such_module_xyz)"
    )


class _Silent(homediag.Probe):
    name = "silent"

    async def run(self, ctx: homediag.ProbeContext) -> homediag.ProbeOutput:
        return homediag.ProbeOutput(summary="nothing to say")


class _OnlyRule:
    name = "only"

    def analyze(self, bundle: homediag.Bundle) -> list[homediag.Finding]:
        # A Finding made directly: a spec() here would join the global catalog.
        return [
            homediag.Finding(
                id="silent.said_nothing",
                severity="info",
                probe="silent",
                title="Nothing",
                detail="nothing",
                remediation="None.",
                docs_url="https://example.invalid/findings#silent.said_nothing",
            )
        ]


async def test_streamed_runs_take_their_own_analyzers() -> None:
    from homediag.testing import make_observer

    events = homediag.diagnose_events(
        probes=[_Silent()], observer=make_observer(), analyzers=[_OnlyRule()]
    )
    last = [event async for event in events][-1]
    assert isinstance(last, homediag.RunFinished)
    assert [f.id for f in last.bundle.findings] == ["silent.said_nothing"]


@pytest.fixture
def own_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    """Findings declared by the test stay out of the catalog the other tests read."""
    from homediag.analysis import catalog

    monkeypatch.setattr(catalog, "CATALOG", dict(catalog.CATALOG))
    monkeypatch.setattr(catalog, "EVIDENCE", dict(catalog.EVIDENCE))


@pytest.mark.usefixtures("own_catalog")
def test_a_plugin_rule_declares_its_own_evidence_keys() -> None:
    entry = homediag.spec(
        "nasplugin.old_firmware",
        severity="warning",
        probe="nas",
        title="The NAS runs old firmware",
        meaning="Its firmware is older than the one the vendor supports.",
        remediation="Update the NAS from its web interface.",
        evidence=("nas_model", "host"),
        new_evidence={"nas_model": "the NAS's model"},
    )
    finding = entry.make("DS920+ on 4.2", {"nas_model": "DS920+", "host": "192.168.1.5"})
    assert finding.evidence == {"nas_model": "DS920+", "host": "192.168.1.5"}
    with pytest.raises(ValueError, match="neither in the vocabulary"):
        homediag.spec(
            "nasplugin.other",
            severity="info",
            probe="nas",
            title="t",
            meaning="m",
            remediation="r",
            evidence=("undeclared_key",),
        )
    with pytest.raises(ValueError, match="severity must be one of"):
        homediag.spec(
            "nasplugin.fatal",
            severity="fatal",  # type: ignore[arg-type]
            probe="nas",
            title="t",
            meaning="m",
            remediation="r",
        )
