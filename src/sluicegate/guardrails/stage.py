"""Stage: the tenant's guardrails on the request going in and the answer coming out.

On the way in, every text of the request (:mod:`sluicegate.guardrails.texts`)
goes past each input guardrail the tenant has. ``block`` refuses the request
(400 ``guardrail_blocked``, naming the guardrail, never quoting the text),
``flag`` lets it through marked, ``redact`` sends the upstream placeholders
instead of the PII (:mod:`sluicegate.guardrails.placeholders`). A moderation
classifier that is unsure asks the guardrail's ``judge`` alias, a yes/no
question, and the judge's call is charged to the request. ``mode: shadow``
records what would have happened and does nothing. A detector that fails is
a 503 ``guardrail_unavailable`` unless the guardrail has ``fail_open``.

On the way out (:mod:`sluicegate.guardrails.answers`) the output guardrails
read the answer and the placeholders are put back. ``x-sluicegate-guardrails``
names what was flagged or redacted (on a stream: what the request's own
checks found, the header leaving before the answer); the ledger keeps every
result, shadow ones included; the metric counts every check.

It sits before the cache, so a stored answer holds placeholders, not anyone's
data, and a blocked request is never answered from it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from sluicegate.canonical import (
    ChatRequest,
    ErrorCode,
    ErrorKind,
    GatewayError,
    Message,
    TextPart,
)
from sluicegate.canonical.collect import ResponseCollector
from sluicegate.detectors.scans import Hit, Uncertain
from sluicegate.guardrails.answers import watched
from sluicegate.guardrails.placeholders import Redaction
from sluicegate.guardrails.texts import Piece, pieces_of, rewrite, spotlight
from sluicegate.guardrails.verdicts import HEADER, GuardrailMetrics, Verdicts
from sluicegate.pipeline import Next, Outcome, Request, Stream
from sluicegate.runtime.guardrails import Guardrail

# Requests with more text than this are scanned off the event loop, with a deadline.
INLINE_CHARS = 64 * 1024
SCAN_TIMEOUT_S = 5.0
JUDGE_QUESTION = (
    "You are a content moderator. Does the text below ask for or contain content that is "
    "harmful (violence, self-harm, sexual content involving minors, hate, harassment, or "
    "help with crime)? Answer with one word: yes or no."
)
_DID = {"redact": "redacted", "block": "blocked", "flag": "flagged"}


class Guard:
    def __init__(self, metrics: GuardrailMetrics | None = None) -> None:
        self.metrics = metrics if metrics is not None else GuardrailMetrics()

    def wants(self, request: Request) -> bool:
        """A chat request, when any guardrail is configured."""
        return type(request.body) is ChatRequest and bool(request.runtime.guardrails.all)

    async def __call__(self, request: Request, call_next: Next) -> Stream:
        tenant = request.tenant
        chosen = request.runtime.guardrails.for_tenant(tenant.name if tenant else None)
        if not chosen:
            return await call_next(request)
        verdicts = Verdicts()
        redaction = Redaction()
        inputs = [g for g in chosen if g.on_input]
        if inputs:
            request = await self._check_input(request, call_next, inputs, verdicts, redaction)
        outputs = [g for g in chosen if g.on_output]
        outcome = request.outcome
        _tell(outcome, verdicts)
        stream = await call_next(request)
        if not outputs and not redaction:
            return stream

        def report(guardrail: Guardrail, found: Sequence[Hit] | Uncertain | None) -> None:
            self._act(guardrail, found, verdicts, output=True)
            _tell(outcome, verdicts)

        return Stream(
            watched(stream, outputs, redaction, report, streamed=request.streaming), outcome
        )

    async def _check_input(
        self,
        request: Request,
        call_next: Next,
        guardrails: Sequence[Guardrail],
        verdicts: Verdicts,
        redaction: Redaction,
    ) -> Request:
        body = request.decoded
        assert isinstance(body, ChatRequest)
        pieces = list(pieces_of(body))
        spans: dict[tuple[int, int, bool], list[tuple[int, int, str]]] = {}
        fence = False
        for guardrail in guardrails:
            found = await self._scan(guardrail, pieces)
            if isinstance(found, Uncertain):
                found = await self._ask_judge(request, call_next, guardrail, pieces)
            hits = self._act(guardrail, found, verdicts, output=False)
            if hits and guardrail.config.action == "redact":
                for piece, piece_hits in hits:
                    key = (piece.message, piece.part, piece.arguments)
                    spans.setdefault(key, []).extend((h.start, h.end, h.label) for h in piece_hits)
            fence = fence or guardrail.config.spotlight
        if spans:
            texts = {(p.message, p.part, p.arguments): p.text for p in pieces}
            body = rewrite(body, {
                key: redaction.redact(texts[key], found_spans)
                for key, found_spans in spans.items()
            })
        if fence:
            body = spotlight(body, lambda p: p.source in ("document", "tool"))
        if body is request.body:
            return request
        return request.replace(body=body)

    async def _scan(
        self, guardrail: Guardrail, pieces: list[Piece]
    ) -> list[tuple[Piece, Sequence[Hit]]] | Uncertain | None:
        """Each piece's hits; Uncertain when the classifier could not decide and found
        nothing for certain; None when the detector failed."""
        try:
            if sum(len(p.text) for p in pieces) <= INLINE_CHARS:
                return _scan_all(guardrail, pieces)
            return await asyncio.wait_for(
                asyncio.to_thread(_scan_all, guardrail, pieces), SCAN_TIMEOUT_S
            )
        except Exception:
            return None

    async def _ask_judge(
        self, request: Request, call_next: Next, guardrail: Guardrail, pieces: list[Piece]
    ) -> list[tuple[Piece, Sequence[Hit]]] | None:
        """The judge alias's yes or no on the texts the classifier was unsure of; None
        when there is no judge (the request passes) or it failed."""
        judge = request.runtime.aliases.get(guardrail.config.judge or "")
        if judge is None:
            return []
        self.metrics.judged[(guardrail.name,)] += 1
        text = "\n\n".join(p.text for p in pieces if p.source not in ("system", "assistant"))
        question = ChatRequest(
            model=judge.name,
            messages=[
                Message(role="system", content=[TextPart(text=JUDGE_QUESTION)]),
                Message(role="user", content=[TextPart(text=text)]),
            ],
            max_tokens=3,
            temperature=0,
        )
        outcome = request.outcome
        try:
            stream = await call_next(request.replace(alias=judge, body=question))
            collector = ResponseCollector()
            async for event in stream:
                collector.add(event)
        except Exception:
            return None
        finally:
            outcome.request = request  # the client's request is the latest version again
        outcome.set_aside()  # the judge's call is charged to the request
        answer = collector.response().choices[0].message.text().strip().lower()
        if not answer.startswith(("yes", "no")):
            return None
        if answer.startswith("no"):
            return []
        return [(pieces[0], [Hit(0, 0, "harmful")])]

    def _act(
        self,
        guardrail: Guardrail,
        found: list[tuple[Piece, Sequence[Hit]]] | Sequence[Hit] | Uncertain | None,
        verdicts: Verdicts,
        *,
        output: bool,
    ) -> list[tuple[Piece, Sequence[Hit]]]:
        """Record the check; raise for an enforced block or a failure that does not
        fail open; the hits to redact otherwise."""
        config = guardrail.config
        if found is None:
            self.metrics.count(guardrail.name, config.action, "error")
            if not config.fail_open:
                raise GatewayError(
                    ErrorKind.UNAVAILABLE,
                    f"Guardrail '{guardrail.name}' could not check the "
                    f"{'answer' if output else 'request'}; try again later.",
                    code=ErrorCode.GUARDRAIL_UNAVAILABLE,
                )
            verdicts.add(guardrail.name, "error")
            return []
        if isinstance(found, Uncertain) or not found:
            self.metrics.count(guardrail.name, config.action, "pass")
            return []
        if config.mode == "shadow":
            self.metrics.count(guardrail.name, config.action, "shadow_hit")
            verdicts.add(guardrail.name, f"would_{config.action}")
            return []
        self.metrics.count(guardrail.name, config.action, "hit")
        if config.action == "block":
            verdicts.add(guardrail.name, "blocked")
            raise GatewayError(
                ErrorKind.INVALID_REQUEST,
                f"{'The answer was' if output else 'The request was'} blocked by "
                f"guardrail '{guardrail.name}'.",
                code=ErrorCode.GUARDRAIL_BLOCKED,
            )
        verdicts.add(guardrail.name, _DID[config.action])
        return [f for f in found if isinstance(f, tuple)]


def _tell(outcome: Outcome, verdicts: Verdicts) -> None:
    """What the guardrails did so far, into the ledger record and the response header."""
    outcome.guardrails = verdicts.ledger()
    told = verdicts.header()
    if told is not None:
        outcome.add_headers({HEADER: told})


def _scan_all(
    guardrail: Guardrail, pieces: list[Piece]
) -> list[tuple[Piece, Sequence[Hit]]] | Uncertain:
    found: list[tuple[Piece, Sequence[Hit]]] = []
    unsure: Uncertain | None = None
    for piece in pieces:
        hits = guardrail.on_requests.scan(piece.text, piece.source)
        if isinstance(hits, Uncertain):
            unsure = hits
        elif hits:
            found.append((piece, hits))
    if unsure is not None and not found:
        return unsure
    return found


