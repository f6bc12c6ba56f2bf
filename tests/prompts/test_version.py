"""Rendering a version: defaults, the variables' schema, and the errors a client sees."""

from __future__ import annotations

from typing import Any

import pytest

from sluicegate.canonical import GatewayError
from sluicegate.prompts import PromptDocument, PromptVersion


def version(**fields: Any) -> PromptVersion:
    document = PromptDocument.model_validate({
        "name": "support",
        "messages": [
            {"role": "system", "content": "For {{ product }} in {{ language }}."},
            {"role": "user", "content": "Example: {{ product }}?"},
            {"role": "assistant", "content": "Sure."},
        ],
        "variables": {
            "type": "object",
            "required": ["product"],
            "properties": {"product": {"type": "string", "maxLength": 20},
                           "language": {"type": "string", "default": "English"}},
        },
        **fields,
    })
    return PromptVersion.compile(document, version=3, hash=document.content_hash(),
                                 created_at=0.0, tenant_id=None)


def test_defaults_fill_what_is_not_given_and_system_text_is_set_apart() -> None:
    rendered = version().render({"product": "Acme"})
    assert rendered.system == ("For Acme in English.",)
    assert [(m.role, m.text()) for m in rendered.messages] == [
        ("user", "Example: Acme?"), ("assistant", "Sure.")]
    assert version().render({"product": "Acme", "language": "French"}).system == (
        "For Acme in French.",)


@pytest.mark.parametrize(
    ("variables", "param"),
    [({}, "prompt.variables.product"),
     ({"product": 3}, "prompt.variables.product"),
     ({"product": "x" * 21}, "prompt.variables.product"),
     ({"product": "Acme", "language": None}, "prompt.variables.language")],
)
def test_a_variable_that_fails_the_schema_is_a_400_naming_it(
    variables: dict[str, Any], param: str
) -> None:
    with pytest.raises(GatewayError) as err:
        version().render(variables)
    assert (err.value.status, err.value.code, err.value.param) == (
        400, "prompt_variables_invalid", param)


def test_without_a_schema_a_missing_variable_is_still_a_400_naming_it() -> None:
    with pytest.raises(GatewayError) as err:
        version(variables=None).render({"product": "x"})
    assert err.value.param == "prompt.variables.language"


def test_identical_content_has_one_hash_however_it_is_spelled() -> None:
    a = PromptDocument.model_validate(
        {"name": "a", "messages": [{"role": "user", "content": "x"}], "params": {}})
    b = PromptDocument.model_validate(
        {"messages": [{"content": "x", "role": "user"}], "name": "b", "tenant": None})
    c = PromptDocument.model_validate(
        {"name": "a", "messages": [{"role": "user", "content": "y"}]})
    assert a.content_hash() == b.content_hash() != c.content_hash()


@pytest.mark.parametrize(
    ("fields", "problem"),
    [({"name": "Support"}, "name"), ({"name": "a" * 65}, "name"), ({"name": "-x"}, "name"),
     ({"messages": []}, "messages"), ({"messages": [{"role": "tool", "content": "x"}]}, "role"),
     ({"params": {"top_k": 0}}, "top_k"), ({"extra": 1}, "extra")],
)
def test_a_document_outside_the_rules_is_refused_naming_the_field(
    fields: dict[str, Any], problem: str
) -> None:
    from pydantic import ValidationError

    base = {"name": "ok", "messages": [{"role": "user", "content": "x"}]}
    with pytest.raises(ValidationError) as err:
        PromptDocument.model_validate({**base, **fields})
    assert problem in str(err.value)
