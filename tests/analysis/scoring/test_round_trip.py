"""The model file carries the whole probability map: ``score`` on the very export the model was trained on gives
the deployed model's probability of every customer (``deployed_predictions.csv``, computed in memory by the run)
to 1e-12, and with it the same segments and offers; losing any part of the map (link, floor, calibrator
parameters) on the way through the file breaks it."""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pytest

from analysis.modeling.features import model_frame
from analysis.modeling.model_file import load_model, predict_proba


@pytest.fixture(scope="module")
def scored(synthetic_run, tmp_path_factory):
    from analysis.scoring.memory import score_export

    out = tmp_path_factory.mktemp("round_trip") / "offers.csv"
    score_export(synthetic_run.parent / "exports", synthetic_run, out)
    return pd.read_csv(out)


def test_score_on_the_training_export_reproduces_the_deployed_model(synthetic_run, scored):
    deployed = pd.read_csv(synthetic_run / "deployed_predictions.csv")
    mine = scored[scored["reason"] == "scored"].set_index("id")
    deployed = deployed.set_index("id")
    assert set(mine.index) == set(deployed.index)
    mine = mine.loc[deployed.index]
    np.testing.assert_allclose(mine["p_decline"], deployed["p_deployed"], rtol=0, atol=1e-12)
    assert mine["segment"].tolist() == deployed["segment"].tolist()
    assert mine["offer"].tolist() == deployed["offer"].tolist()
    np.testing.assert_allclose(mine["risk_drop"], deployed["risk_drop"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(mine["risk_drop_conf_low"], deployed["risk_drop_conf_low"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(mine["risk_drop_conf_high"], deployed["risk_drop_conf_high"], rtol=1e-9, atol=1e-12)


def test_the_run_lists_use_the_out_of_fold_probability(synthetic_run):
    """offers.csv labels training customers with their out-of-fold probability, not the deployed one (they differ)."""
    deployed = pd.read_csv(synthetic_run / "deployed_predictions.csv").set_index("id")
    offers = pd.read_csv(synthetic_run / "offers.csv").set_index("id").loc[deployed.index]
    np.testing.assert_allclose(offers["p_decline"], deployed["p_oof"], rtol=0, atol=0)
    assert np.max(np.abs(deployed["p_oof"] - deployed["p_deployed"])) > 1e-3


@pytest.mark.parametrize("damage", ["drop_calibrator", "nudge_calibrator_floor", "nudge_calibrator_slope",
                                    "floor_link", "drop_floor", "first_coefficient"])
def test_losing_any_part_of_the_map_breaks_the_round_trip(synthetic_run, damage):
    spec = load_model(synthetic_run / "model.json")
    frame = model_frame(pd.read_csv(synthetic_run / "customer_table.csv"))
    deployed = pd.read_csv(synthetic_run / "deployed_predictions.csv")
    bad = copy.deepcopy(spec)
    block = bad["probability"]
    if damage.startswith(("drop_calibrator", "nudge")) and "calibrator" not in block:
        block["calibrator"] = {"kind": "asymptote", "floor": 0.1, "ceiling": 0.95, "slope": 1.2, "shift": -0.3}
    elif damage == "drop_calibrator":
        block.pop("calibrator")
    elif damage == "nudge_calibrator_floor":
        block["calibrator"]["floor"] += 1e-6
    elif damage == "nudge_calibrator_slope":
        block["calibrator"]["slope"] *= 1 + 1e-6
    elif damage == "floor_link":
        if block["link"] == "floor_logit":
            block["floor"] += 1e-6
        else:
            block.update({"link": "floor_logit", "floor": 1e-6})
    elif damage == "drop_floor" and block["link"] == "floor_logit":
        block.update({"link": "logit"})
        block.pop("floor")
    elif damage == "drop_floor":
        block.update({"link": "floor_logit", "floor": 0.05})
    elif damage == "first_coefficient":
        bad["estimates"]["values"][0] += 1e-6
    good = predict_proba(spec, frame)
    np.testing.assert_allclose(good, deployed["p_deployed"], rtol=0, atol=1e-12)
    assert np.max(np.abs(predict_proba(bad, frame) - deployed["p_deployed"].to_numpy())) > 1e-9


def test_the_file_carries_the_offered_actions_and_the_support_reference(synthetic_run):
    spec = json.loads((synthetic_run / "model.json").read_text(encoding="utf-8"))
    try:
        allowed = list(pd.read_csv(synthetic_run / "allowed_levers.csv")["action"])
    except pd.errors.EmptyDataError:
        allowed = []
    assert spec["allowed_levers"] == allowed
    assert set(spec["support"]) >= {"marketing_6m", "marketing_current"}
