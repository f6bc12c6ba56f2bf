"""Error codes: one list, encoded as the plain strings clients match on."""

from __future__ import annotations

import re
from pathlib import Path

import orjson

from sluicegate.canonical import ErrorCode, ErrorKind, GatewayError
from sluicegate.protocols.openai.errors import encode_error

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_code_the_readme_documents_is_one_the_gateway_can_answer() -> None:
    table = README.read_text().split("| status | when | code examples |", 1)[1].split("\n\n", 1)[0]
    rows = [
        line.rsplit("|", 2)[-2]
        for line in table.splitlines()
        if line.startswith("| 4") or line.startswith("| 5")
    ]
    documented = set(re.findall(r"`([a-z_]+)`", " ".join(rows)))
    assert documented, "the README's error table lists no codes"
    assert documented <= {code.value for code in ErrorCode}, documented - set(ErrorCode)


def test_a_code_is_its_string_on_the_wire() -> None:
    err = GatewayError(ErrorKind.RATE_LIMITED, "slow down", code=ErrorCode.BUDGET_EXCEEDED)
    assert orjson.loads(encode_error(err))["error"]["code"] == "budget_exceeded"
    assert err.code == "budget_exceeded"


def test_codes_are_unique_lowercase_names() -> None:
    values = [code.value for code in ErrorCode]
    assert len(values) == len(set(values))
    assert all(re.fullmatch(r"[a-z][a-z_]*[a-z]", value) for value in values)
    assert all(code.name.lower() == code.value for code in ErrorCode)
