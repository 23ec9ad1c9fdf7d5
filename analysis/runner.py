"""``python -m analysis run``: reuse the results when they already hold this run, else run the pipeline into a
fresh directory and swap it in atomically with its manifest (:mod:`analysis.results.store`)."""

from __future__ import annotations

import datetime as _dt
import shutil
import sys

from analysis import paths
from analysis.settings import FULL, Protocol
from analysis.results.store import (
    code_version,
    input_hashes,
    new_run_id,
    read_manifest,
    reusable,
    swap_in,
    write_manifest,
)


def run(data_dir=None, results_dir=None, protocol: Protocol = FULL, force: bool = False, log=None) -> dict:
    """Run the analysis atomically into ``results_dir``, or reuse it when it already holds this run.

    Returns a dict with ``reused`` (bool), ``run_id``, ``results_dir`` and ``manifest``. On any failure
    (exception, Ctrl-C) the fresh directory is removed and ``results_dir`` is exactly as before.
    """
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    target = paths.resolve_results_dir(results_dir)
    if not force and reusable(target, data_dir, protocol.to_dict()):
        manifest = read_manifest(target)
        return {"reused": True, "run_id": manifest["run_id"], "results_dir": target, "manifest": manifest}

    # the stages' heavy imports (scikit-learn, statsmodels: about 2 s) only when the analysis really runs, so
    # that a reused run (every `make report` after the first) does not pay them
    from analysis import pipeline

    inputs = input_hashes(paths.resolve_data_dir(data_dir))
    code = code_version()
    now = _dt.datetime.now(_dt.timezone.utc)
    run_id = new_run_id(now)
    target.parent.mkdir(parents=True, exist_ok=True)
    fresh = target.with_name(f"{target.name}.tmp-{run_id}")
    fresh.mkdir()
    try:
        pipeline.run_analysis(data_dir=data_dir, results_dir=fresh, protocol=protocol)
        manifest = write_manifest(
            fresh, run_id=run_id, created=now.isoformat(timespec="seconds"), seed=protocol.seed, protocol=protocol.name,
            protocol_settings=protocol.to_dict(),
            inputs=inputs or {}, code=code)
        swap_in(fresh, target, run_id)
    except BaseException:
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    log(f"results {run_id} swapped into {target.name}/")
    return {"reused": False, "run_id": run_id, "results_dir": target, "manifest": manifest}
