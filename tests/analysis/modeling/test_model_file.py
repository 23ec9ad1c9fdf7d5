"""The model file: predictions equal statsmodels' own, no customer rows in the file, one-line refusals."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy.special import expit, logit
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from analysis.modeling import model_file
from analysis.modeling.features import linear_formula, model_frame
from analysis.data.synthetic import customer_table
from tests.oracles import central_jacobian

FORMULAS = {
    "numeric": "x + z",
    "treatment_text": "C(g, Treatment('b')) + x",
    "treatment_number": "C(k, Treatment(0)) + x",
    "spline": "cr(x, df=4, constraints='center') + z",
    "product": "x + z + x:z",
    "centred": "I(x - 0.5) + I(z - -1.25)",
    "everything": ("cr(x, df=4, constraints='center') + C(g, Treatment('b')) + C(k, Treatment(0)) + x:z "
                   "+ I(z - 0.5) + C(g):z"),
}


def _data(n: int, seed: int, scale: float = 1.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x": scale * rng.normal(size=n), "z": scale * rng.normal(1, 2, size=n),
                          "g": rng.choice(["a", "b", "c"], size=n), "k": rng.integers(0, 2, size=n)})
    eta = -0.3 + 0.8 * frame["x"] - 0.4 * frame["z"] + 0.5 * (frame["g"] == "a") + 0.3 * frame["k"]
    frame["y"] = (rng.random(n) < expit(eta)).astype(int)
    return frame


@pytest.fixture(scope="module")
def training():
    return _data(600, 1)


@pytest.fixture(scope="module")
def new_data():
    # three times the spread of the training data: splines, products and centring are used beyond the range
    return _data(300, 2, scale=3.0).drop(columns="y")


@pytest.mark.parametrize("name", list(FORMULAS))
def test_typical_predictions_equal_statsmodels(name, training, new_data, tmp_path):
    result = smf.logit(f"y ~ {FORMULAS[name]}", training).fit(disp=0)
    path = model_file.save_model(tmp_path / "model.json", model_file.freeze(result, training))
    spec = model_file.load_model(path)
    assert new_data["x"].max() > training["x"].max() and new_data["x"].min() < training["x"].min()
    np.testing.assert_allclose(model_file.predict_proba(spec, new_data), result.predict(new_data).to_numpy(),
                               rtol=0, atol=1e-12)
    np.testing.assert_allclose(model_file.linear_predictor(spec, new_data),
                               result.predict(new_data, which="linear").to_numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(spec["covariance"], result.cov_params().to_numpy(), rtol=0, atol=0)
    assert spec["estimates"]["names"] == list(result.params.index)


def test_design_frozen_as_documented(training):
    result = smf.logit(f"y ~ {FORMULAS['everything']}", training).fit(disp=0)
    factors = model_file.freeze(result, training)["design"]["factors"]
    assert factors["C(g, Treatment('b'))"] == {"kind": "categorical", "variable": "g", "levels": ["a", "b", "c"],
                                               "reference": "b"}
    assert factors["C(k, Treatment(0))"]["levels"] == [0, 1] and factors["C(k, Treatment(0))"]["reference"] == 0
    assert factors["I(z - 0.5)"]["constants"] == [0.5]
    spline = factors["cr(x, df=4, constraints='center')"]
    assert spline["lower_bound"] == training["x"].min() and spline["upper_bound"] == training["x"].max()
    assert len(spline["knots"]) == 5 and len(spline["constraints"][0]) == 5


def test_store_model_predictions_equal_statsmodels():
    table = model_frame(customer_table(1500, 4))
    formula = linear_formula().replace("tenure_100d", "cr(tenure_100d, df=4, constraints='center')")
    result = smf.logit(f"activity_decline ~ {formula} + pages_per_visit:minutes_prev", table).fit(disp=0)
    spec = model_file.freeze(result, table)
    new = model_frame(customer_table(500, 5))
    np.testing.assert_allclose(model_file.predict_proba(spec, new), result.predict(new).to_numpy(), rtol=0,
                               atol=1e-12)


def test_raises_on_unsupported_factor(training):
    data = training.assign(w=np.exp(training["x"]))
    result = smf.logit("y ~ np.log(w)", data).fit(disp=0)
    with pytest.raises(model_file.ModelFileError, match=r"unsupported formula factor 'np.log\(w\)'"):
        model_file.freeze(result, data)


def test_unseen_level_named(training, new_data):
    result = smf.logit("y ~ C(g, Treatment('b')) + x", training).fit(disp=0)
    spec = model_file.freeze(result, training)
    new = new_data.head(4).assign(g=["a", "d", "b", "e"])
    unseen = model_file.unseen_levels(spec, new)
    assert unseen.to_dict("list") == {"row": [1, 3], "variable": ["g", "g"], "value": ["d", "e"]}
    with pytest.raises(model_file.ModelFileError, match=r"^g = 'd' \(row 1\) is a level the model has not seen"):
        model_file.predict_proba(spec, new)


# --- probability block --------------------------------------------------------------------------------
def test_probability_floor_and_calibrators_match_independent_computations(training, new_data):
    result = smf.logit("y ~ x + z", training).fit(disp=0)
    spec = model_file.freeze(result, training)
    eta_train = result.predict(training, which="linear").to_numpy()
    eta_new = result.predict(new_data, which="linear").to_numpy()

    floor = {"link": "floor_logit", "floor": 0.07}
    np.testing.assert_allclose(model_file.probability_from_eta(floor, eta_new),
                               0.07 + 0.93 / (1 + np.exp(-eta_new)), rtol=1e-14)

    p_train = 0.07 + 0.93 * expit(eta_train)
    iso = IsotonicRegression(out_of_bounds="clip").fit(p_train, training["y"])
    isotonic = {**floor, "calibrator": {"kind": "isotonic", "x": iso.X_thresholds_.tolist(),
                                         "y": iso.y_thresholds_.tolist()}}
    p_new = 0.07 + 0.93 * expit(eta_new)
    np.testing.assert_allclose(model_file.probability_from_eta(isotonic, eta_new), iso.predict(p_new),
                               rtol=0, atol=1e-12)

    platt_fit = LogisticRegression(C=1e12, tol=1e-12, max_iter=10_000).fit(
        logit(expit(eta_train)).reshape(-1, 1), training["y"])
    platt = {"link": "logit", "calibrator": {"kind": "platt", "a": float(platt_fit.coef_[0, 0]),
                                             "b": float(platt_fit.intercept_[0])}}
    np.testing.assert_allclose(model_file.probability_from_eta(platt, eta_new),
                               platt_fit.predict_proba(logit(expit(eta_new)).reshape(-1, 1))[:, 1], rtol=1e-10)

    # stored in the file and used by predict_proba
    spec = model_file.freeze(result, training, probability=isotonic)
    np.testing.assert_allclose(model_file.predict_proba(spec, new_data), iso.predict(p_new), rtol=0, atol=1e-12)


SMOOTH_BLOCKS = {
    "logit": {"link": "logit"},
    "floor_logit": {"link": "floor_logit", "floor": 0.12},
    "asymptote": {"link": "logit", "calibrator": {"kind": "asymptote", "floor": 0.05, "ceiling": 0.9,
                                                  "slope": 1.3, "shift": -0.4}},
    "floor_asymptote": {"link": "floor_logit", "floor": 0.1,
                        "calibrator": {"kind": "asymptote", "floor": 0.02, "ceiling": 0.95, "slope": 0.8,
                                       "shift": 0.3}},
    "platt": {"link": "logit", "calibrator": {"kind": "platt", "a": 0.7, "b": 0.25}},
    "floor_platt": {"link": "floor_logit", "floor": 0.2, "calibrator": {"kind": "platt", "a": 1.4, "b": -0.6}},
}


BAD_BLOCKS = [
    ({"link": "probit"}, "unknown link 'probit' (logit or floor_logit)"),
    ("logit", "unknown link None (logit or floor_logit)"),
    ({"link": "floor_logit", "floor": 1.5}, "the floor must be a number in [0, 1), got 1.5"),
    ({"link": "floor_logit", "floor": 1.0}, "the floor must be a number in [0, 1), got 1.0"),
    ({"link": "floor_logit", "floor": -0.1}, "the floor must be a number in [0, 1), got -0.1"),
    ({"link": "floor_logit", "floor": "0.1"}, "the floor must be a number in [0, 1), got '0.1'"),
    ({"link": "floor_logit"}, "the floor must be a number in [0, 1), got None"),
    ({"link": "logit", "calibrator": {"kind": "isotonic", "x": [0.2, 0.1], "y": [0, 1]}},
     "the isotonic calibrator needs x increasing and as many y as x"),
    ({"link": "logit", "calibrator": {"kind": "isotonic", "x": [0.1, 0.2], "y": [0]}},
     "the isotonic calibrator needs x increasing and as many y as x"),
    ({"link": "logit", "calibrator": {"kind": "isotonic", "x": [], "y": []}},
     "the isotonic calibrator needs x increasing and as many y as x"),
    ({"link": "logit", "calibrator": {"kind": "asymptote", "floor": 0.5, "ceiling": 0.5, "slope": 1, "shift": 0}},
     "the asymptote calibrator needs 0 <= floor < ceiling <= 1 and slope > 0"),
    ({"link": "logit", "calibrator": {"kind": "asymptote", "floor": -0.1, "ceiling": 0.9, "slope": 1, "shift": 0}},
     "the asymptote calibrator needs 0 <= floor < ceiling <= 1 and slope > 0"),
    ({"link": "logit", "calibrator": {"kind": "asymptote", "floor": 0.1, "ceiling": 1.2, "slope": 1, "shift": 0}},
     "the asymptote calibrator needs 0 <= floor < ceiling <= 1 and slope > 0"),
    ({"link": "logit", "calibrator": {"kind": "asymptote", "floor": 0.1, "ceiling": 0.9, "slope": 0, "shift": 0}},
     "the asymptote calibrator needs 0 <= floor < ceiling <= 1 and slope > 0"),
    ({"link": "logit", "calibrator": {"kind": "asymptote", "floor": 0.1, "ceiling": 0.9, "slope": 1}},
     "the asymptote calibrator needs 0 <= floor < ceiling <= 1 and slope > 0"),
    ({"link": "logit", "calibrator": {"kind": "platt", "a": 1.0}}, "the platt calibrator needs numbers a and b"),
    ({"link": "logit", "calibrator": {"kind": "platt", "a": "1", "b": 0.0}},
     "the platt calibrator needs numbers a and b"),
    ({"link": "logit", "calibrator": {"kind": "beta"}}, "unknown calibrator kind 'beta' (isotonic, platt or asymptote)"),
    ({"link": "logit", "calibrator": "platt"}, "unknown calibrator kind None (isotonic, platt or asymptote)"),
]


@pytest.mark.parametrize("block, message", BAD_BLOCKS)
def test_raises_on_bad_probability_block(training, block, message):
    """Every check of the probability block, with its whole message (freeze refuses what load would)."""
    result = smf.logit("y ~ x", training).fit(disp=0)
    with pytest.raises(model_file.ModelFileError) as info:
        model_file.freeze(result, training, probability=block)
    assert str(info.value).endswith(": " + message)


@pytest.mark.parametrize("block", [
    {"link": "floor_logit", "floor": 0.0},
    {"link": "logit", "calibrator": {"kind": "asymptote", "floor": 0.0, "ceiling": 1.0, "slope": 0.5, "shift": 0}},
    {"link": "logit", "calibrator": {"kind": "isotonic", "x": [0.3], "y": [0.4]}},
    {"link": "logit", "calibrator": {"kind": "platt", "a": 1, "b": -2}},
])
def test_accepts_blocks_at_the_edges_of_the_checks(training, block):
    result = smf.logit("y ~ x", training).fit(disp=0)
    model_file.freeze(result, training, probability=block)


@pytest.mark.parametrize("name", [*SMOOTH_BLOCKS, "isotonic", "floor_isotonic"])
def test_probability_from_eta_against_hand_formulas(name):
    """The whole probability map of the file, block by block, from scipy's expit/logit and numpy's interp."""
    iso = {"kind": "isotonic", "x": [0.1, 0.4, 0.8], "y": [0.05, 0.3, 0.95]}
    block = {**SMOOTH_BLOCKS.get(name, {}), **({"link": "logit", "calibrator": iso} if name == "isotonic" else {}),
             **({"link": "floor_logit", "floor": 0.15, "calibrator": iso} if name == "floor_isotonic" else {})}
    eta = np.linspace(-40, 40, 81)
    g = float(block.get("floor", 0.0)) if block["link"] == "floor_logit" else 0.0
    p = g + (1 - g) * expit(eta)
    c = block.get("calibrator")
    if c is None:
        expected = p
    elif c["kind"] == "asymptote":
        s = logit(np.clip(p, 1e-12, 1 - 1e-12))
        expected = c["floor"] + (c["ceiling"] - c["floor"]) * expit(c["slope"] * s + c["shift"])
    elif c["kind"] == "platt":
        expected = expit(c["a"] * logit(p) + c["b"])
    else:
        expected = np.interp(p, c["x"], c["y"])
    got = model_file.probability_from_eta(block, eta)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)
    assert np.all((got >= 0) & (got <= 1))


# --- no customer rows -----------------------------------------------------------------------------------
def _numbers_and_strings(text: str) -> tuple[set[float], set[str]]:
    strings = set(json.loads(f"[{m}]")[0] for m in re.findall(r'"(?:[^"\\]|\\.)*"', text))
    without_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)
    numbers = {float(t) for t in re.findall(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?", without_strings)}
    return numbers, strings


def test_file_holds_no_customer_id(tmp_path):
    sizes = {}
    for n in (800, 3200):
        table = model_frame(customer_table(n, 8))
        result = smf.logit(f"activity_decline ~ {linear_formula()}", table).fit(disp=0)
        spec = model_file.freeze(result, table, oof_risk=result.predict(table).to_numpy())
        path = model_file.save_model(tmp_path / f"model_{n}.json", spec)
        text = path.read_text(encoding="utf-8")
        numbers, strings = _numbers_and_strings(text)
        ids = set(table["id"].tolist())
        # whole JSON tokens are compared: a digit run inside a longer number is not an id
        assert not ids & {int(v) for v in numbers if v == int(v)}
        assert not {str(i) for i in ids} & strings
        assert '"id"' not in text
        sizes[n] = len(text)
    # the file does not grow with the training data: aggregates only
    assert abs(sizes[3200] - sizes[800]) < 0.05 * sizes[800]


# --- refusals -----------------------------------------------------------------------------------------
@pytest.fixture
def saved(training, tmp_path):
    result = smf.logit(f"y ~ {FORMULAS['everything']}", training).fit(disp=0)
    return model_file.save_model(tmp_path / "model.json", model_file.freeze(result, training))


def _one_line(err: Exception) -> str:
    text = str(err)
    assert "\n" not in text
    return text


def test_raises_on_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        model_file.load_model(tmp_path / "model.json")
    assert _one_line(err.value) == f"no fitted model at {tmp_path / 'model.json'}: run `python -m analysis run` first"


def test_raises_on_truncated_file(saved):
    text = saved.read_text(encoding="utf-8")
    saved.write_text(text[: len(text) // 2], encoding="utf-8")
    with pytest.raises(model_file.ModelFileError) as err:
        model_file.load_model(saved)
    assert re.fullmatch(rf"model file {re.escape(str(saved))} is truncated or not JSON \(.+\): rerun "
                        r"`python -m analysis run`", _one_line(err.value))


def test_raises_on_tampered_file(saved):
    spec = json.loads(saved.read_text(encoding="utf-8"))
    spec["estimates"]["values"][1] += 1e-9
    saved.write_text(json.dumps(spec), encoding="utf-8")
    with pytest.raises(model_file.ModelFileError) as err:
        model_file.load_model(saved)
    assert _one_line(err.value).startswith(f"model file {saved} does not match its SHA-256")


def test_raises_on_wrong_version_and_foreign_json(saved):
    spec = json.loads(saved.read_text(encoding="utf-8"))
    saved.write_text(json.dumps({**spec, "version": 99}), encoding="utf-8")
    with pytest.raises(model_file.ModelFileError) as err:
        model_file.load_model(saved)
    assert _one_line(err.value).startswith(f"model file {saved} has format version 99; this package reads "
                                           "version 2")
    assert model_file.VERSION == 2
    saved.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(model_file.ModelFileError, match="is not a model file of this package"):
        model_file.load_model(saved)


def test_save_is_deterministic(training, tmp_path):
    result = smf.logit(f"y ~ {FORMULAS['everything']}", training).fit(disp=0)
    a = model_file.save_model(tmp_path / "a.json", model_file.freeze(result, training)).read_bytes()
    b = model_file.save_model(tmp_path / "b.json", model_file.freeze(result, training)).read_bytes()
    assert a == b


# --- version 2: the support reference, per-customer intervals of a risk drop -------------------------------------

def test_support_replaces_lever_bounds_and_an_old_file_is_refused(training, tmp_path):
    """Version 2 stores the support rule's reference counts under ``support`` (no ``lever_bounds``); a version-1
    file is refused with the rerun advice, and a version-2 file without ``support`` is refused too."""
    from analysis.decisions import actions

    store = model_frame(customer_table(300, 4))
    result = smf.logit(f"activity_decline ~ {linear_formula()}", store).fit(disp=0)
    reference = actions.support_reference(store)
    spec = model_file.freeze(result, store, support=reference)
    assert "lever_bounds" not in spec and spec["support"] == json.loads(json.dumps(reference))
    path = model_file.save_model(tmp_path / "model.json", spec)
    loaded = model_file.load_model(path)
    assert loaded["support"] == spec["support"]
    # the stored counts give the same room as the training frame's own reference
    for lever in actions.STORE_ACTIONS:
        _, room, _ = actions.apply_action(store, lever, loaded["support"])
        np.testing.assert_array_equal(room, actions.apply_action(store, lever, reference)[1])
    old = {k: v for k, v in spec.items() if k not in ("support", "sha256")} | {"version": 1, "lever_bounds": {}}
    old["sha256"] = __import__("hashlib").sha256(model_file._canonical(old)).hexdigest()
    path.write_text(json.dumps(old), encoding="utf-8")
    with pytest.raises(model_file.ModelFileError, match="has format version 1; this package reads version 2: "
                                                        "rerun `python -m analysis run`"):
        model_file.load_model(path)
    new = {k: v for k, v in spec.items() if k not in ("support", "sha256")}
    new["sha256"] = __import__("hashlib").sha256(model_file._canonical(new)).hexdigest()
    path.write_text(json.dumps(new), encoding="utf-8")
    with pytest.raises(model_file.ModelFileError, match="lacks support: rerun"):
        model_file.load_model(path)




@pytest.mark.parametrize("name", ["logit", "floor_platt", "asymptote"])
def test_inference_drop_against_a_finite_difference_jacobian(name, training, new_data):
    """drop_i = q(x0_i) − q(x1_i) of the inference probability q (link only: any calibrator left out), and its se
    from a numerical Jacobian of each row's drop in the coefficients (central differences of predict_proba on a
    spec without the calibrator and with moved estimates), sqrt(J V J') row by row."""
    # a full-rank design (splines, a text factor, a product): the covariance is well conditioned
    result = smf.logit("y ~ cr(x, df=4, constraints='center') + C(g, Treatment('b')) + x:z + z", training).fit(disp=0)
    spec = model_file.freeze(result, training, probability=SMOOTH_BLOCKS[name])
    link_only = {**spec, "probability": {k: v for k, v in spec["probability"].items() if k != "calibrator"}}
    frame0 = new_data.iloc[:40].reset_index(drop=True)
    frame1 = frame0.assign(x=frame0["x"] + 0.7, z=frame0["z"] - 0.3)
    beta = np.asarray(spec["estimates"]["values"], dtype=float)
    V = np.asarray(spec["covariance"], dtype=float)

    def diff(b):
        moved = {**link_only, "estimates": {**spec["estimates"], "values": b.tolist()}}
        return model_file.predict_proba(moved, frame0) - model_file.predict_proba(moved, frame1)

    J = central_jacobian(diff, beta)
    drop, se = model_file.inference_drop(spec, frame0, frame1)
    np.testing.assert_allclose(drop, diff(beta), rtol=1e-12, atol=1e-15)
    # by hand: expit(η), with the floor g + (1 − g)·expit(η) of a floor link
    g = float(spec["probability"].get("floor", 0.0)) if spec["probability"]["link"] == "floor_logit" else 0.0
    eta0, eta1 = model_file.linear_predictor(spec, frame0), model_file.linear_predictor(spec, frame1)
    np.testing.assert_allclose(drop, (1 - g) * (expit(eta0) - expit(eta1)), rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(model_file.inference_probability(spec, frame0), g + (1 - g) * expit(eta0),
                               rtol=1e-12)
    np.testing.assert_allclose(se, np.sqrt(np.einsum("ij,jk,ik->i", J, V, J)), rtol=1e-5)
    assert np.all(se > 0)
    # no change, no uncertainty
    np.testing.assert_allclose(model_file.inference_drop(spec, frame0, frame0)[1], 0.0, atol=1e-15)
    # a row's value does not depend on the batch it is scored in (a design without splines: patsy's spline basis
    # itself differs in the last bit between batches, which is the design's business, not this function's)
    plain = smf.logit("y ~ C(g, Treatment('b')) + x:z + z + x", training).fit(disp=0)
    plain_spec = model_file.freeze(plain, training, probability=SMOOTH_BLOCKS[name])
    whole = model_file.inference_drop(plain_spec, frame0, frame1)
    for i in range(len(frame0)):
        one = model_file.inference_drop(plain_spec, frame0.iloc[[i]], frame1.iloc[[i]])
        assert (one[0][0], one[1][0]) == (whole[0][i], whole[1][i])


def test_inference_drop_ignores_even_an_isotonic_map(training, new_data):
    """The drop is the link's change: a calibrator, smooth or not, does not enter it."""
    result = smf.logit(f"y ~ {FORMULAS['numeric']}", training).fit(disp=0)
    block = {"link": "logit", "calibrator": {"kind": "isotonic", "x": [0.1, 0.9], "y": [0.0, 1.0]}}
    spec = model_file.freeze(result, training, probability=block)
    plain = model_file.freeze(result, training, probability={"link": "logit"})
    moved = new_data.assign(x=new_data["x"] + 1)
    for a, b in zip(model_file.inference_drop(spec, new_data, moved), model_file.inference_drop(plain, new_data, moved)):
        np.testing.assert_array_equal(a, b)


# --- what freeze stores, and the drift reference, by hand -------------------------------------------------
def test_decile_summary_by_hand():
    """Edges: the distinct 10 %–90 % quantiles; shares: the fraction in each bin (edges[i-1], edges[i]], outer bins
    open; a tied value sits in the bin its edge closes."""
    values = np.array([5.0, 1, 2, 2, 2, 3, 4, 9, 7, 6, 8, 10])
    got = model_file.decile_summary(values)
    edges = sorted(set(np.quantile(values, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]).tolist()))
    assert got["edges"] == pytest.approx(edges, rel=1e-15)
    bounds = [-np.inf] + edges + [np.inf]
    shares = [float(np.mean((values > lo) & (values <= hi))) for lo, hi in zip(bounds[:-1], bounds[1:])]
    assert got["shares"] == pytest.approx(shares, rel=1e-15) and sum(got["shares"]) == pytest.approx(1.0)
    assert len(got["edges"]) < 9  # the tied 2s merge two deciles into one edge


def test_training_summary_by_hand():
    frame = pd.DataFrame({"x": np.arange(20, dtype=float), "g": ["b", "a", "b", "c"] * 5, "z": np.ones(20)})
    risk = np.linspace(0.05, 0.95, 20)
    got = model_file.training_summary(frame, ["x", "z"], ["g"], risk)
    assert got["n"] == 20 and set(got) == {"n", "numeric", "categorical", "risk"}
    assert got["numeric"]["x"] == model_file.decile_summary(frame["x"].to_numpy())
    assert got["numeric"]["z"] == {"edges": [1.0], "shares": [1.0, 0.0]}
    assert got["categorical"]["g"] == {"levels": ["a", "b", "c"], "shares": [0.25, 0.5, 0.25]}
    assert got["risk"] == model_file.decile_summary(risk)
    assert "risk" not in model_file.training_summary(frame, ["x"], [], None)


def test_freeze_stores_every_part_as_given(training):
    """Each field the scoring step reads is stored as given, in plain JSON types, with the training reference."""
    from dataclasses import dataclass

    @dataclass
    class Thresholds:
        risk: float
        profit: float

    result = smf.logit("y ~ x + C(g)", training).fit(disp=0)
    oof = np.linspace(0.1, 0.9, len(training))
    spec = model_file.freeze(result, training, thresholds=Thresholds(0.5, 2.0), allowed_levers=("a", "b"),
                             support={"x": [1.0, 2.0]}, rules={"extreme_revenue_factor": 4}, oof_risk=oof,
                             probability={"link": "floor_logit", "floor": 0.1}, extra={"seed": 7, "model": "m"})
    assert (spec["format"], spec["version"]) == (model_file.FORMAT, model_file.VERSION)
    assert spec["formula"] == "y ~ x + C(g)"
    assert spec["thresholds"] == {"risk": 0.5, "profit": 2.0}
    assert spec["allowed_levers"] == ["a", "b"] and spec["support"] == {"x": [1.0, 2.0]}
    assert spec["rules"] == {"extreme_revenue_factor": 4} and (spec["seed"], spec["model"]) == (7, "m")
    assert spec["probability"] == {"link": "floor_logit", "floor": 0.1}
    assert spec["estimates"]["names"] == list(result.params.index)
    np.testing.assert_array_equal(spec["estimates"]["values"], result.params.to_numpy())
    np.testing.assert_array_equal(spec["covariance"], result.cov_params().to_numpy())
    assert spec["training"] == model_file.training_summary(training, ["x"], ["g"], oof)
    json.dumps(spec)  # plain JSON throughout
    bare = model_file.freeze(result, training)
    assert (bare["probability"], bare["thresholds"], bare["allowed_levers"], bare["support"], bare["rules"]) == (
        {"link": "logit"}, None, [], {}, {})
    assert "risk" not in bare["training"] and "seed" not in bare


def test_the_file_is_utf8_json_with_a_hash_of_its_canonical_form(training, tmp_path):
    """Another implementation can check a file: the SHA-256 is over the spec without it, as JSON with sorted
    keys, no spaces, UTF-8 text (not \\u escapes); the file itself is that spec, indented by one, with a newline."""
    import hashlib

    result = smf.logit("y ~ x + C(g)", training).fit(disp=0)
    spec = model_file.freeze(result, training, extra={"note": "клиент «В один клик»"})
    path = model_file.save_model(tmp_path / "deep" / "er" / "model.json", spec)
    raw = path.read_bytes()
    text = raw.decode("utf-8")
    assert "клиент «В один клик»" in text and "\\u" not in text and text.endswith("}\n")
    assert text.splitlines()[1].startswith(' "') and not text.splitlines()[1].startswith('  ')
    stored = json.loads(text)
    body = {k: v for k, v in stored.items() if k != "sha256"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    assert stored["sha256"] == hashlib.sha256(canonical).hexdigest()
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.json"]  # no temporary file left
    # saving what was loaded gives the same bytes (an old sha256 is replaced, not hashed)
    again = model_file.save_model(tmp_path / "again.json", {**model_file.load_model(path), "sha256": "stale"})
    assert again.read_bytes() == raw


def test_load_model_messages_exactly(training, tmp_path):
    import hashlib

    result = smf.logit("y ~ x + C(g)", training).fit(disp=0)
    path = model_file.save_model(tmp_path / "model.json", model_file.freeze(result, training))
    good = json.loads(path.read_text(encoding="utf-8"))
    rerun = "rerun `python -m analysis run`"

    def rewrite(spec):
        body = {k: v for k, v in spec.items() if k != "sha256"}
        body["sha256"] = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"),
                                                   ensure_ascii=False).encode("utf-8")).hexdigest()
        path.write_text(json.dumps(body), encoding="utf-8")

    def message():
        with pytest.raises(model_file.ModelFileError) as info:
            model_file.load_model(path)
        return str(info.value)

    path.write_bytes(b'{"format": "\xff"}')
    assert message() == f"cannot read model file {path}: not UTF-8 text"
    rewrite({k: v for k, v in good.items() if k not in ("rules", "training")})
    assert message() == f"model file {path} lacks rules, training: {rerun}"
    rewrite({**good, "estimates": {**good["estimates"], "values": good["estimates"]["values"][:-1]}})
    assert message() == f"model file {path}: the estimates do not match the design's columns"
    rewrite({**good, "estimates": {**good["estimates"], "names": good["estimates"]["names"][::-1]}})
    assert message() == f"model file {path}: the estimates do not match the design's columns"
    rewrite({**good, "probability": {"link": "probit"}})
    assert message() == f"model file {path}: unknown link 'probit' (logit or floor_logit)"
    rewrite(good)
    assert model_file.load_model(path)["estimates"] == good["estimates"]


def test_unseen_levels_columns_order_and_nothing_unseen(training):
    result = smf.logit("y ~ x + C(g) + C(g):x", training).fit(disp=0)
    spec = model_file.freeze(result, training)
    none = model_file.unseen_levels(spec, training)
    assert list(none.columns) == ["row", "variable", "value"] and none.empty
    numeric_only = model_file.freeze(smf.logit("y ~ x", training).fit(disp=0), training)
    empty = model_file.unseen_levels(numeric_only, training)  # no categorical factor at all
    assert list(empty.columns) == ["row", "variable", "value"] and empty.empty
    frame = training.head(4).assign(g=["zz", "a", "yy", "zz"])
    got = model_file.unseen_levels(spec, frame)
    assert got.to_dict("list") == {"row": [0, 2, 3], "variable": ["g", "g", "g"], "value": ["zz", "yy", "zz"]}


# --- the second round of issue 22, item 7: what mutmut showed unpinned -----------------------------------
def _freeze_message(formula: str, frame: pd.DataFrame) -> str:
    result = smf.logit(f"y ~ {formula}", frame).fit(disp=0)
    with pytest.raises(model_file.ModelFileError) as info:
        model_file.freeze(result, frame)
    return str(info.value)


def test_plain_keeps_booleans_and_names_what_it_refuses():
    assert model_file._plain([True, np.True_, False, np.False_]) == [True, True, False, False]
    assert all(type(v) is bool for v in model_file._plain((np.True_, np.False_)))
    with pytest.raises(model_file.ModelFileError) as info:
        model_file._plain({"a": [1.0, np.float64("inf")]})
    assert str(info.value) == "cannot store the non-finite number inf in a model file"
    with pytest.raises(model_file.ModelFileError) as info:
        model_file._plain({1, 2})
    assert str(info.value) == "cannot store a set in a model file: {1, 2}"


def test_every_refused_factor_is_named_with_its_whole_message(training):
    """The formula factors the file cannot describe, each refused with a message naming the whole factor, wherever
    the unsupported part sits in an ``I()`` expression."""
    data = training.assign(w=np.exp(training["x"]))
    tail = ": only numbers, columns and + - * / ** can be stored"
    for code in ("I(np.log(w) + x)", "I(x + np.log(w))", "I(-np.log(w))", "I(x * (z - np.log(w)))"):
        assert _freeze_message(code, data) == f"unsupported expression in formula factor {code!r}{tail}"
    for code in ("np.asarray(g)", "C(k + 1)"):
        assert _freeze_message(f"{code} + x", data) == (
            f"unsupported categorical factor {code!r}: use a column or C(column, ...)")
    assert _freeze_message("np.column_stack([x, z])", data) == (
        "unsupported factor 'np.column_stack([x, z])' with 2 columns")
    assert _freeze_message("np.log(w)", data) == (
        "unsupported formula factor 'np.log(w)': supported are columns, I(arithmetic), cr(column, ...), "
        "C(column, ...) and products of these")


def test_identity_factors_record_their_columns_and_evaluate_like_patsy(training, new_data):
    """``I()`` with every operator and sign, columns on either side: the variables it needs are stored, and the
    file predicts as statsmodels does (a column on the right of an operator, a unary plus that is not a minus)."""
    formula = "I(x / (1 + z ** 2)) + I(-x * z) + I(+z) + I(2 - x)"
    result = smf.logit(f"y ~ {formula}", training).fit(disp=0)
    spec = model_file.freeze(result, training)
    factors = spec["design"]["factors"]
    assert factors["I(x / (1 + z ** 2))"]["variables"] == ["x", "z"]
    assert factors["I(-x * z)"]["variables"] == ["x", "z"]
    assert factors["I(+z)"] == {"kind": "identity", "expression": "+z", "variables": ["z"], "constants": []}
    assert factors["I(2 - x)"]["constants"] == [2]
    assert model_file.model_variables(spec) == (["x", "z"], [])
    np.testing.assert_allclose(model_file.predict_proba(spec, new_data), result.predict(new_data).to_numpy(),
                               rtol=0, atol=1e-12)


def test_plain_column_categoricals_splines_without_constraints_and_term_names(training, new_data):
    """A text column used as a factor without ``C()``, a spline without constraints (its basis keeps every
    column) and the patsy term names the file lists."""
    result = smf.logit("y ~ g + cr(x, df=4) + z", training).fit(disp=0)
    spec = model_file.freeze(result, training)
    factors = spec["design"]["factors"]
    assert factors["g"] == {"kind": "categorical", "variable": "g", "levels": ["a", "b", "c"], "reference": "a"}
    spline = factors["cr(x, df=4)"]
    assert spline["constraints"] is None and spline["num_columns"] == 4
    assert spline["num_columns"] == sum(name.startswith("cr(x, df=4)") for name in result.params.index)
    assert [t["name"] for t in spec["design"]["terms"]] == [t.name() for t in result.model.data.model_spec.terms]
    np.testing.assert_allclose(model_file.predict_proba(spec, new_data), result.predict(new_data).to_numpy(),
                               rtol=0, atol=1e-12)


def test_unseen_levels_once_per_variable_when_two_factors_share_it(training):
    result = smf.logit("y ~ C(g) + C(g, Treatment('b')):x", training).fit(disp=0)
    spec = model_file.freeze(result, training)
    assert len([e for e in spec["design"]["factors"].values() if e.get("variable") == "g"]) == 2
    got = model_file.unseen_levels(spec, training.head(3).assign(g=["q", "a", "r"]))
    assert got.to_dict("list") == {"row": [0, 2], "variable": ["g", "g"], "value": ["q", "r"]}


def test_design_matrix_messages_and_the_empty_design(training):
    result = smf.logit("y ~ C(g, Treatment('b')) + x", training).fit(disp=0)
    spec = model_file.freeze(result, training)
    frame = training.head(3).assign(g=["a", "d", "b"])
    with pytest.raises(model_file.ModelFileError) as info:
        model_file.design_matrix(spec, frame)
    assert str(info.value) == "g = 'd' (row 1) is a level the model has not seen; levels: a, b, c"
    with pytest.raises(model_file.ModelFileError) as info:
        model_file.design_matrix(spec, training.drop(columns="x"))
    assert str(info.value) == "the data has no column 'x', which the model needs"
    short = {**spec, "design": {**spec["design"], "column_names": spec["design"]["column_names"][:-1]}}
    with pytest.raises(model_file.ModelFileError) as info:
        model_file.design_matrix(short, training)
    assert str(info.value) == "the frozen design gives 4 columns, the model has 3"
    empty = {"design": {"factors": {}, "terms": [], "column_names": []}}
    assert model_file.design_matrix(empty, training.head(5)).shape == (5, 0)
    odd = {"design": {"factors": {"x": {"kind": "spline", "variable": "x"}}, "terms": [], "column_names": []}}
    with pytest.raises(model_file.ModelFileError) as info:
        model_file.design_matrix(odd, training)
    assert str(info.value) == "unknown factor kind 'spline' in the model file"


def test_freeze_refuses_estimates_out_of_order_and_a_design_that_does_not_rebuild(training):
    """The two checks of ``freeze`` on doctored results: estimates named otherwise than the design's columns, and
    a fitted matrix one entry of which differs by 1e-6 (the rebuild must agree to 1e-10)."""
    from types import SimpleNamespace

    result = smf.logit("y ~ x + z", training).fit(disp=0)
    renamed = SimpleNamespace(model=result.model, params=result.params.rename({"x": "xx"}),
                              cov_params=result.cov_params)
    with pytest.raises(model_file.ModelFileError) as info:
        model_file.freeze(renamed, training)
    assert str(info.value) == ("the estimates do not follow the design's columns: "
                               "['Intercept', 'xx', 'z'] vs ['Intercept', 'x', 'z']")
    exog = np.array(result.model.exog, dtype=float)
    row = int(np.argmax(np.abs(exog[:, 2])))
    exog[row, 2] += 1e-6  # well inside numpy's default tolerances, outside the 1e-10 the check asks for
    doctored = SimpleNamespace(model=SimpleNamespace(data=result.model.data, formula=result.model.formula,
                                                     exog=exog), params=result.params, cov_params=result.cov_params)
    with pytest.raises(model_file.ModelFileError) as info:
        model_file.freeze(doctored, training)
    assert str(info.value) == "the frozen design does not rebuild the fitted design matrix"
    exog = np.array(result.model.exog, dtype=float)
    exog[0, 0] += 1e-9  # the intercept column: beyond 1e-10 + 1e-10 × 1, inside numpy's default atol of 1e-8
    doctored.model.exog = exog
    with pytest.raises(model_file.ModelFileError, match="does not rebuild"):
        model_file.freeze(doctored, training)
    with pytest.raises(model_file.ModelFileError) as info:
        model_file.freeze(result, training, probability={"link": "probit"})
    assert str(info.value) == "the probability block: unknown link 'probit' (logit or floor_logit)"


def test_freeze_uses_the_rows_the_fit_used(training):
    """statsmodels drops a row with a missing value: the rebuild and the training summary use the 599 rows fitted."""
    data = training.copy()
    data.loc[3, "x"] = np.nan
    result = smf.logit("y ~ x + z", data).fit(disp=0)
    spec = model_file.freeze(result, data)
    assert spec["training"]["n"] == 599
    assert spec["training"]["numeric"]["x"] == model_file.decile_summary(data["x"].drop(index=3).to_numpy())


def test_training_summary_orders_levels_of_mixed_types():
    """Levels of a column holding numbers and text sort by type first (numbers before text), then by value."""
    frame = pd.DataFrame({"g": [1, "b", 1, "a", 2, "b"]}, dtype=object)
    got = model_file.training_summary(frame, [], ["g"], None)
    assert got["categorical"]["g"] == {"levels": [1, 2, "a", "b"], "shares": [2 / 6, 1 / 6, 1 / 6, 2 / 6]}


def test_isotonic_block_edges(training):
    """x may repeat (a flat step of the isotonic fit); a block without x or y is refused with the check's message."""
    result = smf.logit("y ~ x", training).fit(disp=0)
    model_file.freeze(result, training, probability={"link": "logit", "calibrator": {
        "kind": "isotonic", "x": [0.0, 0.5, 0.5, 1.0], "y": [0.1, 0.2, 0.3, 0.4]}})
    for calibrator in ({"kind": "isotonic"}, {"kind": "isotonic", "x": [0.0, 1.0]},
                       {"kind": "isotonic", "y": [0.0, 1.0]}):
        with pytest.raises(model_file.ModelFileError) as info:
            model_file.freeze(result, training, probability={"link": "logit", "calibrator": calibrator})
        assert str(info.value) == ("the probability block: the isotonic calibrator needs x increasing and as "
                                   "many y as x")


def test_extreme_linear_predictors_are_clipped_before_the_logit():
    """At eta = ±800 the probability is exactly 0 or 1; the asymptote map and the floor logit's score clip it to
    [1e-12, 1 − 1e-12] first (documented), so both stay finite."""
    eta = np.array([-800.0, 0.0, 800.0])
    lo, hi = logit(1e-12), logit(1 - 1e-12)
    block = {"link": "logit", "calibrator": {"kind": "asymptote", "floor": 0.05, "ceiling": 0.9, "slope": 1.3,
                                             "shift": -0.4}}
    expected = 0.05 + 0.85 * expit(1.3 * np.array([lo, 0.0, hi]) - 0.4)
    assert model_file.probability_from_eta(block, eta).tolist() == expected.tolist()
    score, slope = model_file.inference_score({"link": "floor_logit", "floor": 0.0}, eta)
    assert score.tolist() == [lo, 0.0, hi]
    assert np.all(np.isfinite(slope))


def test_load_model_refuses_a_directory_and_non_finite_numbers(training, tmp_path):
    import errno
    import os

    folder = tmp_path / "model.json"
    folder.mkdir()
    with pytest.raises(model_file.ModelFileError) as info:
        model_file.load_model(folder)
    assert str(info.value) == f"cannot read model file {folder}: {os.strerror(errno.EISDIR)}"
    result = smf.logit("y ~ x", training).fit(disp=0)
    path = model_file.save_model(tmp_path / "m.json", model_file.freeze(result, training))
    text = path.read_text(encoding="utf-8")
    value = json.loads(text)["estimates"]["values"][0]
    path.write_text(text.replace(json.dumps(value), "NaN", 1), encoding="utf-8")
    with pytest.raises(model_file.ModelFileError) as info:
        model_file.load_model(path)
    assert str(info.value) == f"model file {path} holds the non-finite number NaN: rerun `python -m analysis run`"
