"""The Guard stage driven directly: a detector that is unsure asks the judge; one that
fails decides by fail_open; the judge's answer and cost are the request's."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from types import SimpleNamespace
from typing import Any, cast

import pytest

from sluicegate.canonical import (
    ChatRequest,
    Event,
    Finish,
    GatewayError,
    Message,
    Start,
    TextDelta,
    TextPart,
    Usage,
)
from sluicegate.config import ModelConfig
from sluicegate.config.schema import GuardrailConfig
from sluicegate.detectors.scans import Hit, Source, Uncertain
from sluicegate.guardrails.stage import Guard
from sluicegate.pipeline import Request, Stream
from sluicegate.runtime.aliases import Alias
from sluicegate.runtime.guardrails import Guardrail, Guardrails


def alias(name: str) -> Alias:
    config = ModelConfig.model_validate({
        "name": name, "targets": [{"provider": "oai", "model": "m"}],
        "pricing": {"input_per_mtok": 1.0, "output_per_mtok": 1.0},
    })
    return Alias(name=name, targets=(cast(Any, SimpleNamespace(label=f"oai/{name}")),),
                 fallbacks=(), pricing=config.pricing, config=config)


class Unsure:
    def scan(self, text: str, source: Source) -> Sequence[Hit] | Uncertain:
        return Uncertain(0.5, "violence") if source == "user" else ()


class Broken:
    def scan(self, text: str, source: Source) -> Sequence[Hit] | Uncertain:
        raise RuntimeError("model file unreadable")


def request(detector: Any, **config: Any) -> Request:
    guardrail = Guardrail(GuardrailConfig(name="mod", type="moderation", **config), detector)
    aliases = {"gpt": alias("gpt"), "judge": alias("judge")}
    runtime = SimpleNamespace(aliases=aliases, guardrails=Guardrails((guardrail,)))
    body = ChatRequest(model="gpt", messages=[
        Message(role="user", content=[TextPart(text="how sharp should a kitchen knife be?")])])
    return Request.of(body, alias=aliases["gpt"], runtime=cast(Any, runtime))


class Upstream:
    """The rest of the chain: the judge says ``verdict``; the model says "Fine."."""

    def __init__(self, verdict: str = "no") -> None:
        self.verdict = verdict
        self.asked: list[str] = []

    async def __call__(self, request: Request) -> Stream:
        assert request.alias is not None
        self.asked.append(request.alias.name)
        text = self.verdict if request.alias.name == "judge" else "Fine."
        request.outcome.usage = Usage(input_tokens=10, output_tokens=1)
        request.outcome.first_event_at = 0.0
        return Stream(_events(text), request.outcome)


async def _events(text: str) -> AsyncIterator[Event]:
    for event in (Start(id="x", model="m"), TextDelta(text=text), Finish(reason="stop")):
        yield event


async def answer(stage: Guard, req: Request, upstream: Upstream) -> str:
    stream = await stage(req, upstream)
    return "".join([e.text async for e in stream if isinstance(e, TextDelta)])


async def test_an_unsure_classifier_asks_the_judge_and_a_no_passes() -> None:
    stage, upstream = Guard(), Upstream("No")
    req = request(Unsure(), judge="judge")
    assert await answer(stage, req, upstream) == "Fine."
    assert upstream.asked == ["judge", "gpt"]
    assert stage.metrics.judged[("mod",)] == 1
    assert req.outcome.spent is not None and req.outcome.spent.input_tokens == 10  # charged
    assert req.latest.alias is not None and req.latest.alias.name == "gpt"


async def test_a_judge_that_says_yes_blocks() -> None:
    upstream = Upstream("Yes.")
    with pytest.raises(GatewayError) as caught:
        await answer(Guard(), request(Unsure(), judge="judge"), upstream)
    assert caught.value.code == "guardrail_blocked"
    assert upstream.asked == ["judge"]


async def test_a_judge_that_answers_neither_is_a_failure_fail_open_decides() -> None:
    with pytest.raises(GatewayError) as caught:
        await answer(Guard(), request(Unsure(), judge="judge"), Upstream("maybe"))
    assert caught.value.code == "guardrail_unavailable"
    req = request(Unsure(), judge="judge", fail_open=True)
    assert await answer(Guard(), req, Upstream("maybe")) == "Fine."
    assert req.outcome.guardrails == "mod=error"


async def test_without_a_judge_an_unsure_classifier_lets_the_request_pass() -> None:
    upstream = Upstream()
    assert await answer(Guard(), request(Unsure()), upstream) == "Fine."
    assert upstream.asked == ["gpt"]


async def test_a_detector_that_fails_refuses_the_request_by_default() -> None:
    upstream = Upstream()
    with pytest.raises(GatewayError) as caught:
        await answer(Guard(), request(Broken()), upstream)
    assert caught.value.status == 503 and upstream.asked == []
    assert "model file" not in caught.value.message  # never the detector's insides


async def test_a_detector_that_fails_open_passes_and_says_so_in_the_ledger() -> None:
    req = request(Broken(), fail_open=True)
    assert await answer(Guard(), req, Upstream()) == "Fine."
    assert req.outcome.guardrails == "mod=error"
