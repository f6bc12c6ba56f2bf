"""``model_changed``: the model an upstream says served a target is not the one it said before.

Providers move an alias to a new snapshot without notice (``gpt-4o`` answering
as ``gpt-4o-2024-11-20`` one morning); the answer's ``model`` field is the only
sign. Each answer's served model is compared with the last one seen for its
target, in memory: one dict lookup per request, and a task off the request
path only when it differs. The last model seen is also kept in the store, so a
process started after the change still sees it, and the alert's key (target,
both models, the UTC day) makes it one alert for every replica that notices.
"""

from __future__ import annotations

import asyncio
import logging
import time

from sluicegate.observability.alerts import Alerts
from sluicegate.state.behaviour_store import BehaviourStore

log = logging.getLogger("sluicegate.signals")


class ServedModels:
    def __init__(self, store: BehaviourStore, alerts: Alerts) -> None:
        self._store = store
        self._alerts = alerts
        # target label -> the model its answers last said served them (targets are few:
        # those of the config).
        self._last: dict[str, str] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def saw(self, target: str, alias: str | None, model: str | None) -> None:
        """An answer of ``target`` said ``model`` served it."""
        if model is None:
            return
        previous = self._last.get(target)
        if previous == model:
            return
        self._last[target] = model
        task = asyncio.get_running_loop().create_task(
            self._changed(target, alias, previous, model)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _changed(
        self, target: str, alias: str | None, previous: str | None, model: str
    ) -> None:
        try:
            if previous is None:  # first answer this process saw: what was it before?
                previous = await self._store.served_model(target)
            if previous == model:
                return
            now = time.time()
            await self._store.set_served_model(target, model, now)
            if previous is None:
                return  # the first model ever seen for the target: nothing changed
            day = time.strftime("%Y-%m-%d", time.gmtime(now))
            await self._alerts.emit_once(
                f"{target}\x00{previous}\x00{model}\x00{day}",
                "model_changed",
                f"{target} now answers as {model!r} (was {previous!r})",
                alias=alias,
                target=target,
                previous_model=previous,
                model=model,
            )
        except Exception as exc:  # the store is down: the next change is still seen
            log.warning("could not check the served model of %s: %s", target, exc)

    async def close(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
