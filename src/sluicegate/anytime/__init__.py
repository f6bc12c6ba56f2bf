"""Always-valid inference: intervals and p-values that stay valid however often they
are looked at (for canary gates and experiments, which are watched continuously).

A fixed-sample test checked after every request finds a "winner" in an A/A test far
more often than its alpha says; the mixture sequential probability ratio test
(mSPRT; Johari, Pekelis and Walsh, "Always Valid Inference", 2017) does not: its
p-value is a running minimum that crosses alpha, over the whole unbounded run,
with probability at most alpha when there is no difference. Means are of
requests but units (sessions, keys) carry many requests each, so their variance is
clustered by unit (:mod:`.clustered`).
"""

from sluicegate.anytime.clustered import ClusteredMean
from sluicegate.anytime.msprt import AlwaysValid, Comparison, compare

__all__ = ["AlwaysValid", "ClusteredMean", "Comparison", "compare"]
