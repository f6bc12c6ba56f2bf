"""How upstream HTTP failures map to the contract's statuses and codes."""

from __future__ import annotations

import pytest

from sluicegate.canonical import ErrorKind
from sluicegate.protocols.upstream_errors import upstream_error


@pytest.mark.parametrize(
    ("status", "message", "headers", "kind", "code", "retryable"),
    [
        (429, "slow down", {"retry-after": "2"}, ErrorKind.RATE_LIMITED, "upstream_rate_limited",
         True),
        (500, "boom", {}, ErrorKind.UPSTREAM, "upstream_error", True),
        (503, "overloaded", {}, ErrorKind.UPSTREAM, "upstream_error", True),
        (504, "gateway timeout", {}, ErrorKind.TIMEOUT, "upstream_timeout", True),
        (404, "The model `gpt-9` does not exist", {}, ErrorKind.UPSTREAM,
         "upstream_model_not_found", True),
        (401, "Incorrect API key provided", {}, ErrorKind.UPSTREAM, "upstream_auth_failed", False),
        (400, "This model's maximum context length is 8192 tokens", {},
         ErrorKind.INVALID_REQUEST, "context_length_exceeded", False),
        (400, "prompt is too long: 210000 tokens > 200000 maximum", {},
         ErrorKind.INVALID_REQUEST, "context_length_exceeded", False),
        (400, "The response was filtered due to the prompt triggering Azure OpenAI's content "
              "management policy.", {}, ErrorKind.INVALID_REQUEST, "content_policy_violation",
         False),
        (400, "Your request was rejected as a result of our safety system.", {},
         ErrorKind.INVALID_REQUEST, "content_policy_violation", False),
        (400, "Invalid value for 'temperature'", {}, ErrorKind.INVALID_REQUEST,
         "upstream_invalid_request", False),
    ],
)
def test_upstream_failures_map_to_contract_errors(
    status: int, message: str, headers: dict[str, str], kind: ErrorKind, code: str,
    retryable: bool,
) -> None:
    err = upstream_error("main", status, message, headers)
    assert (err.kind, err.code, err.retryable, err.upstream_status) == (
        kind, code, retryable, status)
    assert message in err.message


def test_retry_after_is_read_in_seconds_or_milliseconds() -> None:
    assert upstream_error("m", 429, "", {"retry-after": "3"}).retry_after == 3.0
    assert upstream_error("m", 429, "", {"retry-after-ms": "250"}).retry_after == 0.25
    assert upstream_error("m", 429, "", {}).retry_after is None


# --------------------------------------------------------------------------- redirects


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_a_bad_answer_naming_its_status_and_not_its_target(
    status: int, caplog: pytest.LogCaptureFixture
) -> None:
    err = upstream_error("up", status, "", {"location": "https://elsewhere.example/steal"})

    assert (err.status, err.code, err.upstream_status) == (502, "upstream_bad_response", status)
    assert str(status) in err.message
    assert "elsewhere" not in err.message
    assert "https://elsewhere.example/steal" in caplog.text  # the operator is told where
