"""The output-contracts benchmark's parts: corpus, damage, fake upstream, scoring.

The figures come from bench/contracts.py; here each part is checked to do
what the benchmark says it does.
"""

from __future__ import annotations

import ast
import json
import random
import re
import sys
from pathlib import Path
from typing import Any

import jsonschema_rs
import openai
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from contract_corpus import TEMPLATES, generate, make_case
from contract_damage import DAMAGES, MIX, SEMANTIC, SYNTACTIC, draw, render
from contract_upstream import ContractUpstream

from contracts import instructor_arm, json_equal

CASES = generate(5000)
SAMPLE = CASES[:400]


def errors(case: Any, value: Any) -> list[str]:
    return [e.message for e in jsonschema_rs.validator_for(case.schema).iter_errors(value)]


def damaged(kind: str, case: Any, n: int = 0) -> tuple[str, str]:
    return DAMAGES[kind](case.obj, case.schema, random.Random(f"test:{case.id}:{n}"))


# --------------------------------------------------------------------------- corpus


def test_the_corpus_is_the_same_for_the_same_seed_and_a_prefix_for_fewer_cases() -> None:
    assert generate(300) == CASES[:300]
    assert make_case(42) == CASES[42]
    assert make_case(42, seed=7) != CASES[42]


def test_every_object_is_valid_against_its_schema() -> None:
    for case in CASES:
        assert jsonschema_rs.validator_for(case.schema).is_valid(case.obj), case.id


def test_the_shapes_vary() -> None:
    assert len(TEMPLATES) >= 30
    assert {c.template for c in CASES} == set(TEMPLATES)
    assert len({json.dumps(c.schema, sort_keys=True) for c in CASES}) >= 500
    assert 0.4 < sum(c.strict for c in CASES) / len(CASES) < 0.8


def test_schemas_are_openai_strict_style() -> None:
    def objects(schema: dict[str, Any]) -> list[dict[str, Any]]:
        found = [schema] if "properties" in schema else []
        subs = [*schema.get("properties", {}).values(), *([schema["items"]] if "items" in schema
                                                          else [])]
        for sub in subs:
            found += objects(sub)
        return found

    for case in SAMPLE:
        for obj in objects(case.schema):
            assert obj["additionalProperties"] is False
            if case.strict:  # OpenAI strict: every property required, optional ones nullable
                assert obj["required"] == list(obj["properties"])
    assert any(not c.strict and any(k not in c.schema["required"] for k in c.schema["properties"])
               for c in SAMPLE)


def test_the_values_include_what_breaks_naive_json_handling() -> None:
    text = "".join(json.dumps(c.obj, ensure_ascii=False) for c in CASES)
    for needle in ["O'Brien", '\\"', "\\n", "\\\\", "東京", "1e-07", '"null"', ": null",
                   "9007199254740993", "18446744073709551623", "-1.5", ": 0,"]:
        assert needle in text, needle


# --------------------------------------------------------------------------- damage


def test_the_mix_is_80_clean_12_syntactic_8_semantic() -> None:
    assert sum(MIX.values()) == pytest.approx(1.0)
    assert MIX["clean"] == 0.80
    assert sum(MIX[k] for k in SYNTACTIC) == pytest.approx(0.12)
    assert sum(MIX[k] for k in SEMANTIC) == pytest.approx(0.08)
    assert set(MIX) == set(DAMAGES) == {"clean", *SYNTACTIC, *SEMANTIC}


def test_draws_are_deterministic_per_case_attempt_and_seed_and_follow_the_mix() -> None:
    assert draw(CASES[3], 1, seed=5) == draw(CASES[3], 1, seed=5)
    firsts = [draw(c, 0).kind for c in CASES]
    assert firsts != [draw(c, 1).kind for c in CASES]  # a re-ask draws again
    assert firsts != [draw(c, 0, seed=2).kind for c in CASES]
    assert firsts.count("clean") / len(firsts) == pytest.approx(0.80, abs=0.02)


def test_clean_answers_are_the_object() -> None:
    for case in SAMPLE:
        text, finish = damaged("clean", case)
        assert finish == "stop"
        assert json_equal(json.loads(text), case.obj)


def test_prose_and_fences_wrap_the_exact_json() -> None:
    for case in SAMPLE:
        for kind in ("prose", "fence"):
            text, _ = damaged(kind, case)
            with pytest.raises(json.JSONDecodeError):
                json.loads(text)
            inner = text[text.index("{"):text.rindex("}") + 1]  # the wrapping has no braces
            assert json_equal(json.loads(inner), case.obj), (kind, text)
            assert bool(re.search("^```", text, re.MULTILINE)) == (kind == "fence")
    assert any(damaged("fence", c)[0].startswith("```json\n") for c in SAMPLE)


def test_trailing_commas_fail_json_and_are_all_that_is_wrong() -> None:
    obj = {"a": [1, 2], "b": {"c": "x, ]"}, "d": []}
    text = render(obj, trailing=lambda: True)
    assert text == '{"a": [1, 2,], "b": {"c": "x, ]",}, "d": [],}'
    for case in SAMPLE:
        text, _ = damaged("trailing_comma", case)
        with pytest.raises(json.JSONDecodeError):
            json.loads(text)
        assert re.search(r",\s*}$", text)


def test_single_quotes_are_js_style_strings_with_json_literals() -> None:
    obj = {"name": "O'Brien \"Bo\"", "path": "C:\\x\n", "n": [1.5, 0]}
    text, _ = DAMAGES["single_quotes"](obj, {}, random.Random(1))
    assert ast.literal_eval(text) == obj  # same escapes as Python's
    assert "'O\\'Brien \"Bo\"'" in text
    for case in SAMPLE:
        text, _ = damaged("single_quotes", case)
        with pytest.raises(json.JSONDecodeError):
            json.loads(text)


def test_python_literals_are_the_repr_of_the_dict() -> None:
    for case in SAMPLE:
        text, _ = damaged("python_literals", case)
        assert text == repr(case.obj)
        assert ast.literal_eval(text) == case.obj
        with pytest.raises(json.JSONDecodeError):
            json.loads(text)


def test_truncation_cuts_the_json_and_says_length() -> None:
    for case in SAMPLE:
        text, finish = damaged("truncation", case)
        assert finish == "length"
        with pytest.raises(json.JSONDecodeError):
            json.loads(text)
        assert any(r.startswith(text) for r in (render(case.obj), render(case.obj, indent=2)))


def test_strings_for_numbers_parse_but_fail_validation() -> None:
    for case in SAMPLE:
        text, _ = damaged("strings_for_numbers", case)
        value = json.loads(text)
        assert errors(case, value)
        assert all("is not of type" in e for e in errors(case, value))
        assert not json_equal(value, case.obj)


def test_missing_required_and_extra_keys_parse_but_fail_validation() -> None:
    for case in SAMPLE:
        missing = json.loads(damaged("missing_required", case)[0])
        assert any("is a required property" in e for e in errors(case, missing))
        extra = json.loads(damaged("extra_keys", case)[0])
        assert any("Additional properties" in e for e in errors(case, extra)), errors(case, extra)


def test_a_refusal_has_no_json() -> None:
    text, finish = damaged("refusal", CASES[0])
    assert "{" not in text and finish == "stop"
    assert text.startswith("I'm sorry")


# --------------------------------------------------------------------------- upstream


def messages(case_id: int, answers: list[str]) -> list[dict[str, str]]:
    out = [{"role": "system", "content": "Extract."},
           {"role": "user", "content": f"case {case_id}: extract it"}]
    for text in answers:
        out += [{"role": "assistant", "content": text}, {"role": "user", "content": "Fix it."}]
    return out


async def test_the_fake_upstream_answers_the_draw_for_the_attempt_in_openai_format() -> None:
    cases = {c.id: c for c in CASES[:20]}
    async with ContractUpstream(cases, seed=3) as fake:
        client = openai.AsyncOpenAI(base_url=fake.url, api_key="sk-x", max_retries=0)
        first = await client.chat.completions.create(model="gpt-4o",
                                                     messages=messages(7, []))  # type: ignore[arg-type]
        reask = await client.chat.completions.create(
            model="gpt-4o", messages=messages(7, ["{bad"]))  # type: ignore[arg-type]
        await client.close()
        assert first.object == "chat.completion"
        assert first.choices[0].message.content == draw(cases[7], 0, 3).text
        assert first.choices[0].finish_reason == draw(cases[7], 0, 3).finish_reason
        assert reask.choices[0].message.content == draw(cases[7], 1, 3).text
        assert first.usage is not None and first.usage.completion_tokens > 0
        assert fake.calls[7] == 2
        assert set(fake.answers) == {(7, 0), (7, 1)}
        raw = fake.requests[-1]
        assert raw.json["messages"][2]["role"] == "assistant"


async def test_the_fake_upstream_answers_the_exact_bytes_of_the_test_fake() -> None:
    from aiohttp import ClientSession

    from fakes.openai_upstream import Reply, completion

    cases = {c.id: c for c in CASES[:5]}
    async with ContractUpstream(cases) as fake, ClientSession() as http:
        async with http.post(f"{fake.url}/chat/completions", json={
                "model": "m", "messages": messages(2, [])},
                headers={"Authorization": "Bearer k"}) as resp:
            body = await resp.read()
        answer = draw(cases[2], 0)
        tokens = max(1, len(answer.text) // 4)
        expected = completion(Reply(text=answer.text, finish_reason=answer.finish_reason, usage={
            "prompt_tokens": 50, "completion_tokens": tokens, "total_tokens": 50 + tokens,
            "completion_tokens_details": {"reasoning_tokens": 0}}), "m")
        assert json.loads(body) == expected
        async with http.post(f"{fake.url}/chat/completions", json={
                "model": "m", "messages": [{"role": "user", "content": "no id here"}]},
                headers={"Authorization": "Bearer k"}) as resp:
            assert resp.status == 400
        assert sum(fake.calls.values()) == 1


# --------------------------------------------------------------------------- scoring


def test_equality_is_of_json_values() -> None:
    assert json_equal({"a": [1, 2.0]}, {"a": [1.0, 2]})
    assert not json_equal(1, "1")
    assert not json_equal(True, 1)
    assert not json_equal(None, 0)
    assert not json_equal({"a": 1}, {"a": 1, "b": None})


def test_the_instructor_baseline_reasks_on_what_json_loads_or_the_schema_rejects() -> None:
    bad = next(c for c in CASES if draw(c, 0).kind == "trailing_comma")
    good = next(c for c in CASES if draw(c, 0).kind == "clean")
    validators = [jsonschema_rs.validator_for(c.schema) for c in (bad, good)]
    first, second = instructor_arm([bad, good], validators, seed=1, max_reasks=1)
    assert first.calls == 2 and second.calls == 1
    assert second.correct


async def test_the_gateway_arm_relays_each_case_and_reads_what_came_back() -> None:
    from contracts import request_for, sluicegate_arm

    cases = CASES[:40]
    validators = [jsonschema_rs.validator_for(c.schema) for c in cases]
    # No contract on the alias, no response_format: the gateway relays the first draw as is.
    outcomes, upstream = await sluicegate_arm(cases, validators, seed=1, concurrency=4,
                                              contract=None)
    assert [o.case for o in outcomes] == [c.id for c in cases]
    assert all(o.calls == 1 for o in outcomes)
    for case, o in zip(cases, outcomes, strict=True):
        first = draw(case, 0)
        assert o.kind == first.kind and o.answer == first.text
        assert o.correct == (first.kind == "clean")
        assert o.invalid_passed == (first.kind != "clean")

    sent = request_for(CASES[5])["response_format"]
    assert sent == {"type": "json_schema", "json_schema": {
        "name": CASES[5].template, "schema": CASES[5].schema, "strict": CASES[5].strict}}
    assert "response_format" not in upstream.requests[0].json
