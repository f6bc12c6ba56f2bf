"""The Redis limiter's Lua scripts, kept as .lua files beside this module.

They are rendered once, at import: the limiter's constants (the window, the
concurrency retry) are filled in with ``string.Template`` (``${NAME}``: Lua
has no ``$``), each script that writes integers back gets the ``int`` helper,
and ``settle_then_admit`` takes the other two as local functions, so that a
settlement and an admission share one round trip and one EVALSHA.
"""

from __future__ import annotations

from importlib.resources import files
from string import Template

from sluicegate.admission.limiter import CONCURRENCY_RETRY_S, WINDOW_S

# A window hash expires this long after its newest bucket.
WINDOW_KEY_TTL_S = 2 * WINDOW_S

_CONSTANTS = {
    "WINDOW_S": WINDOW_S,
    "WINDOW_S_MINUS_1": WINDOW_S - 1,
    "WINDOW_MS": WINDOW_S * 1000,
    "WINDOW_KEY_TTL_S": WINDOW_KEY_TTL_S,
    "CONCURRENCY_RETRY_MS": round(CONCURRENCY_RETRY_S * 1000),
}


def _source(name: str) -> str:
    return files("sluicegate.admission").joinpath("lua", f"{name}.lua").read_text()


def _render(name: str, **parts: str) -> str:
    return Template(_source(name)).substitute(_CONSTANTS, **parts)


INT = _source("int")
ADMIT = INT + _render("admit")
ADJUST = INT + _render("adjust")
SETTLE_THEN_ADMIT = _render("settle_then_admit", ADJUST=ADJUST, ADMIT=ADMIT)
SEED = _source("seed")
