"""The protocol: every setting of a run, in one frozen object that is passed (not imported) to the stages and
written to ``results/manifest.json`` (``protocol_settings``) and ``results/protocol.csv``.

``FULL`` is the run's protocol; ``QUICK`` the same with fewer folds, replicates and simulations, for tests on
small synthetic exports. The command line sets what a user would want to set (``--seed``, ``--risk-threshold``,
``--quick``); :meth:`Protocol.replace` makes a variant. Defaults of functions that the pipeline calls with the
protocol's value are read from ``FULL``, so that no setting's value is typed twice. This module imports nothing of
the package (it is the bottom layer) and nothing heavy (the reuse check of ``run`` reads it in a fraction of a
second).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class Protocol:
    #: the name the manifest records ("full" or "quick")
    name: str = "full"
    #: seed of every random step (folds, subsamples, bootstrap replicates, simulations)
    seed: int = 20261123
    #: outer folds × repeats of the nested cross-validation, and its inner folds
    n_splits: int = 5
    n_repeats: int = 5
    inner_splits: int = 3
    #: customer-bootstrap replicates of the whole procedure behind the decisions' intervals
    n_bootstrap: int = 200
    #: simulated tables behind phik's significance
    n_simulations: int = 1000
    #: significance level (family-wise where Holm-adjusted) and confidence level of every interval
    alpha: float = 0.05
    conf_level: float = 0.95
    #: VIF above which a design column is flagged (a rule of thumb: 5 "worth a look", 10 "serious")
    vif_threshold: float = 5.0
    #: P(decline) at or above which a customer is high risk; profit quantile splitting high from low profit
    risk_threshold: float = 0.5
    profit_quantile: float = 0.5
    #: share of customers in the single hold-out of the benchmark
    holdout_share: float = 0.25
    #: worker processes of the cross-validation and the bootstrap (the results do not depend on it)
    n_jobs: int = 2

    def replace(self, **changes) -> "Protocol":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """Every setting but the worker count (which does not change a number), for the manifest and the reuse
        check."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "n_jobs"}

    def cross_validation(self) -> dict:
        """The nested cross-validation's folds (the benchmark's ``protocol`` argument)."""
        return {"n_splits": self.n_splits, "n_repeats": self.n_repeats, "inner_splits": self.inner_splits}


FULL = Protocol()
QUICK = FULL.replace(name="quick", n_splits=3, n_repeats=2, inner_splits=2, n_bootstrap=20, n_simulations=200)
PROTOCOLS = {"full": FULL, "quick": QUICK}
