"""How upstream HTTP failures map to the contract's statuses and codes."""

from __future__ import annotations

import logging

import orjson
import pytest

from sluicegate.canonical import ErrorKind
from sluicegate.protocols.anthropic.messages_upstream import stream_error
from sluicegate.protocols.gemini import error_from_body
from sluicegate.protocols.openai.chat_upstream import upstream_error_event
from sluicegate.protocols.upstream_errors import error_message, scrub, upstream_error


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


# --------------------------------------------------------------------------- credentials

GENERIC = "the gateway's credentials for upstream 'up' were rejected"


def _body(data: object) -> bytes:
    return orjson.dumps(data)


# Each provider's answer to a key it does not accept, as the real APIs send it.
OPENAI_401 = _body({"error": {
    "message": "Incorrect API key provided: sk-proj-AbCdEf0123456789xyz. You can find your API "
               "key at https://platform.openai.com/account/api-keys.",
    "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}})
OPENAI_403 = _body({"error": {
    "message": "Project `proj_Xy12Ab34Cd56` does not have access to model `gpt-5`",
    "type": "invalid_request_error", "param": None, "code": "model_not_found"}})
ANTHROPIC_401 = _body({"type": "error", "error": {
    "type": "authentication_error", "message": "invalid x-api-key sk-ant-api03-Zz9Yy8Xx7"}})
AZURE_401 = _body({"error": {"code": "401", "message":
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide "
    "a valid key for an active subscription and use a correct regional API endpoint for your "
    "resource."}})
# A self-hosted server that echoes what it was sent.
ECHOING_401 = b"bad key: Bearer UPSTREAM-0123456789abcdef"


@pytest.mark.parametrize(("status", "body", "secret"), [
    (401, OPENAI_401, "sk-proj-AbCdEf0123456789xyz"),
    (403, OPENAI_403, "proj_Xy12Ab34Cd56"),
    (401, ANTHROPIC_401, "sk-ant-api03-Zz9Yy8Xx7"),
    (401, AZURE_401, None),
    (401, ECHOING_401, "UPSTREAM-0123456789abcdef"),
])
def test_rejected_credentials_get_the_gateways_message_and_the_log_the_upstreams(
    status: int, body: bytes, secret: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "sluicegate.upstream")
    message = error_message(body)

    err = upstream_error("up", status, message, {})

    assert (err.status, err.code, err.upstream_status) == (502, "upstream_auth_failed", status)
    assert err.message == GENERIC
    (record,) = caplog.records
    assert "'up' rejected the gateway's credentials" in record.getMessage()
    assert scrub(message) in record.getMessage()
    if secret is not None:
        assert secret not in caplog.text


GEMINI_KEY_INVALID = _body({"error": {
    "code": 400, "message": "API key not valid. Please pass a valid API key.",
    "status": "INVALID_ARGUMENT",
    "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                 "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]}})
GEMINI_KEY_SUSPENDED = _body({"error": {
    "code": 403, "message": "Permission denied: Consumer 'api_key:AIzaSyA1b2C3d4E5f6G7h8I9j0K'"
                            " has been suspended.",
    "status": "PERMISSION_DENIED"}})


@pytest.mark.parametrize("body", [GEMINI_KEY_INVALID, GEMINI_KEY_SUSPENDED])
def test_geminis_key_failures_are_credential_failures(body: bytes) -> None:
    # Gemini answers a wrong key with 400, which the client must not be blamed for.
    error = error_from_body(body, orjson.loads(body)["error"]["code"])

    err = upstream_error("up", error.status, error.message, {})

    assert (err.code, err.message) == ("upstream_auth_failed", GENERIC)


def test_credential_failures_inside_a_stream_are_not_relayed_either() -> None:
    anthropic = stream_error(orjson.loads(ANTHROPIC_401), "up")
    openai = upstream_error_event("up", {"type": "authentication_error",
                                         "message": "Bearer sk-live-0123456789 was revoked"})

    assert [(e.code, e.message) for e in (anthropic, openai)] == [
        ("upstream_auth_failed", GENERIC)] * 2


def test_a_key_complaint_under_another_status_is_a_credential_failure() -> None:
    # OpenAI-compatible servers (vLLM's --api-key, proxies) answer 400 or 500.
    err = upstream_error("up", 400, "Invalid API key: my-self-hosted-key", {})

    assert (err.status, err.code, err.message) == (502, "upstream_auth_failed", GENERIC)


# --------------------------------------------------------------------------- other messages


@pytest.mark.parametrize(("status", "message", "kept", "secret"), [
    # OpenAI's rate limits name the organisation
    (429, "Rate limit reached for gpt-4o in organization org-AbC123dEf456GhI789jKl on tokens "
          "per min (TPM): Limit 30000, Used 29000, Requested 1500.",
     "Rate limit reached for gpt-4o in organization [redacted] on tokens per min (TPM)",
     "org-AbC123dEf456GhI789jKl"),
    # Anthropic's name it by its UUID
    (429, "rate_limit_error: This request would exceed the rate limit for your organization "
          "(8d6c2c5c-1b2a-4c3d-9e8f-0a1b2c3d4e5f) of 400,000 input tokens per minute.",
     "for your organization ([redacted]) of 400,000 input tokens per minute",
     "8d6c2c5c-1b2a-4c3d-9e8f-0a1b2c3d4e5f"),
    # Gemini's quota names the project
    (429, "RESOURCE_EXHAUSTED: Quota exceeded for quota metric 'Generate Content API requests "
          "per minute' for consumer 'project_number:123456789012'.",
     "for consumer '[redacted]'", "123456789012"),
    # Azure's resource paths carry the subscription
    (404, "The deployment /subscriptions/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0/resourceGroups/"
          "rg/deployments/gpt4o was not found",
     "The deployment /subscriptions/[redacted]/resourceGroups/", "0b1c2d3e"),
    # a server that echoes the request's headers
    (400, "unexpected header Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOjF9.c2lnbmF0dXJl",
     "unexpected header Authorization: Bearer [redacted]", "eyJhbGciOiJIUzI1NiJ9"),
    (500, "upstream call failed with api_key=0c9f4e1a2b3c4d5e6f708192a3b4c5d6",
     "upstream call failed with api_key=[redacted]", "0c9f4e1a"),
])
def test_other_messages_reach_the_client_without_keys_or_account_ids(
    status: int, message: str, kept: str, secret: str
) -> None:
    err = upstream_error("up", status, message, {})

    assert err.message.startswith(f"upstream 'up' answered {status}: ")
    assert kept in err.message
    assert secret not in err.message


@pytest.mark.parametrize("message", [
    "This model's maximum context length is 128000 tokens. However, your messages resulted "
    "in 130412 tokens. Please reduce the length of the messages.",
    "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
    "models/gemini-0.0-nope is not found for API version v1beta, or is not supported for "
    "generateContent.",
    "The response was filtered due to the prompt triggering Azure OpenAI's content management "
    "policy. Please modify your prompt and retry. https://go.microsoft.com/fwlink/?linkid=2198766",
    "Invalid value for 'tool_choice': 'task-runner-2024-required' is not one of the choices",
])
def test_what_a_client_needs_to_fix_its_request_is_left_alone(message: str) -> None:
    assert scrub(message) == message


def test_a_long_message_is_cut_between_words_so_no_key_escapes_by_being_cut() -> None:
    message = "x " * 499 + "sk-" + "a" * 100 + " trailing words"

    relayed = upstream_error("up", 500, message, {}).message

    assert len(relayed) < 1100
    assert "sk-a" not in relayed
