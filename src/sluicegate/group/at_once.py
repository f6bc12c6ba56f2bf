"""Running an in-process store's call to its end from a plain callback."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

_T = TypeVar("_T")


def at_once(call: Coroutine[Any, Any, _T]) -> _T:
    """The result of ``call``, a coroutine that never suspends.

    The supervisor's in-process stores (``MemoryLimiter``,
    ``MemoryIdempotencyStore``) never suspend in the calls it makes (that is
    what makes each call atomic), so the coroutine finishes on its first step;
    the supervisor answers from a socket's data callback, without a task per
    message.
    """
    try:
        call.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    call.close()
    raise RuntimeError("an in-process store suspended; it must answer at once")
