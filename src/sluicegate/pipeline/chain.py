"""The order of the stages: the one place to read what happens to a request.

Settle        records every outcome in the ledger and metrics (outermost)
Authenticate  API key -> tenant                                   401
Decode        body -> canonical request                           400, 413
ResolveModel  alias exists and the tenant may use it              404, 403
Route         alias -> ordered (alias, target) pairs, fallbacks last
CallUpstream  try targets until one answers                       429, 502, 503, 504
"""

from __future__ import annotations

from sluicegate.accounting.settle import Settle
from sluicegate.auth.authenticate import Authenticate
from sluicegate.observability.metrics import Metrics
from sluicegate.pipeline.decode import Decode
from sluicegate.pipeline.stage import Pipeline
from sluicegate.routing.resolve import ResolveModel
from sluicegate.routing.route import Route
from sluicegate.state.directory import Directory
from sluicegate.state.ledger import Ledger
from sluicegate.upstream.call import CallUpstream


def build_pipeline(*, directory: Directory, ledger: Ledger, metrics: Metrics) -> Pipeline:
    return Pipeline(
        [
            Settle(ledger, metrics),
            Authenticate(directory),
            Decode(),
            ResolveModel(),
            Route(),
        ],
        CallUpstream(),
    )
