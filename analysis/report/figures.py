"""The report's figures: each function takes the results bundle and returns a :class:`matplotlib.figure.Figure`
drawn on the Agg canvas (no pyplot state); :func:`show` displays one as SVG at its natural size (6.5 in = the
text width of the A4 PDF). Colours are the Okabe–Ito colour-blind-safe palette."""

from __future__ import annotations

import io
import textwrap
from contextlib import contextmanager

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from analysis.data.dictionary import TARGET
from analysis.report.formats import fmt_int
from analysis.report.labels import (
    ALL_HIGH_RISK,
    AXIS_UNITS,
    CI,
    GRID_SEGMENTS,
    SHORT_LABELS,
    contrast_label,
    lever_label,
    model_label,
    segment_label,
    variable_label,
)
from analysis.results.registry import Results
from analysis.report.text import ame_unit, units_of, alpha, headline, key_predictors, thresholds  # noqa: F401
#: Okabe–Ito colour-blind-safe palette.
OKABE_ITO = {"black": "#000000", "orange": "#E69F00", "sky": "#56B4E9", "green": "#009E73", "yellow": "#F0E442",
             "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7", "grey": "#999999"}


CLASS_COLORS = {1: OKABE_ITO["vermillion"], 0: OKABE_ITO["blue"]}


CLASS_NAMES = {1: "Declined", 0: "Same level"}


SEGMENT_COLORS = {"high_risk_high_profit": OKABE_ITO["vermillion"], "high_risk_low_profit": OKABE_ITO["orange"],
                  "low_risk_high_profit": OKABE_ITO["blue"], "low_risk_low_profit": OKABE_ITO["sky"]}


MODEL_STYLES = {
    "logit_selected": (OKABE_ITO["black"], "-"), "gam_engagement": (OKABE_ITO["sky"], "-"),
    "gam_engagement_recalibrated": (OKABE_ITO["sky"], "--"), "logit_floor": (OKABE_ITO["yellow"], "-"), "logit_linear": (OKABE_ITO["grey"], "--"),
    "logit_l2": (OKABE_ITO["purple"], ":"), "svc_rbf": (OKABE_ITO["green"], "-."),
    "random_forest": (OKABE_ITO["vermillion"], "-"), "decision_tree": (OKABE_ITO["orange"], "--"),
    "knn": (OKABE_ITO["blue"], ":"),
}


WIDTH = 6.5  # inches: the text width of the A4 PDF


DPI = 192


STYLE = {
    "font.size": 9, "axes.titlesize": 9.5, "axes.labelsize": 9, "xtick.labelsize": 8.5, "ytick.labelsize": 8.5,
    "legend.fontsize": 8.5, "axes.spines.top": False, "axes.spines.right": False, "axes.titleweight": "bold",
    "font.family": "DejaVu Sans", "axes.grid": False, "legend.frameon": False,
}


#: Characters per line of a long tick label (8.5 pt): about 2.6 in of the 6.5-in figure, the rest for the plot.
LABEL_CHARS = 40
#: Height of a row of a dot plot with a one-line label, and of each further line of a wrapped label (inches).
ROW_IN = 0.22
LINE_IN = 0.13


def _rows(labels, width: int = LABEL_CHARS) -> tuple[list[str], np.ndarray, float]:
    """Labels wrapped to ``width`` characters, the centre of each row in inches from the bottom, and the total
    height: each row as tall as its label, so that two-line labels do not run into their neighbours."""
    wrapped = [textwrap.fill(str(label), width) for label in labels]
    heights = np.array([ROW_IN + LINE_IN * w.count("\n") for w in wrapped])
    return wrapped, np.cumsum(heights) - heights / 2, float(heights.sum())


def _log_ticks(ax, axis: str = "x") -> None:
    """Plain-number ticks on a log axis (0.7, 0.8, 1 rather than 7×10⁻¹): the coarsest of 1-2-5, 1-2-3-5-7 and
    1…9 per decade that puts at least three ticks inside the limits."""
    lo, hi = sorted(ax.get_xlim() if axis == "x" else ax.get_ylim())
    decades = range(int(np.floor(np.log10(lo))) - 1, int(np.ceil(np.log10(hi))) + 1)
    for mantissas in ((1, 2, 5), (1, 2, 3, 5, 7), tuple(range(1, 10))):
        ticks = [m * 10.0 ** e for e in decades for m in mantissas if lo <= m * 10.0 ** e <= hi]
        if len(ticks) >= 3:
            break
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(mpl.ticker.FixedLocator(ticks))
    target.set_major_formatter(mpl.ticker.FixedFormatter([f"{t:g}" for t in ticks]))
    target.set_minor_locator(mpl.ticker.NullLocator())


@contextmanager
def _style():
    with mpl.rc_context(STYLE):
        yield


def _figure(height: float, width: float = WIDTH) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def figure_png(fig: Figure, dpi: int = DPI) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def figure_svg(fig: Figure) -> str:
    """The figure as SVG: vector, so sharp at any zoom (a phone's pinch, a printed page). Text as paths (the
    file needs no font), fixed ids and no date (the same figure gives the same bytes)."""
    buffer = io.StringIO()
    with mpl.rc_context({"svg.fonttype": "path", "svg.hashsalt": "analysis.report.figures"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def show(fig: Figure):
    """Display a figure in the report as SVG at its natural size (the figure width in inches: the text width of
    the PDF). Quarto and qmdrender alike take the SVG for the HTML and the PDF."""
    from IPython.display import SVG, display

    display(SVG(data=figure_svg(fig)))


def fig_class_distributions(res: Results, variables: list[str] | None = None) -> Figure:
    data = res["customer_table"]
    variables = variables or key_predictors(res)
    ncols = 3
    nrows = int(np.ceil(len(variables) / ncols))
    with _style():
        fig = _figure(2.2 * nrows + 0.45)
        axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
        for ax, var in zip(axes, variables):
            x = data[var]
            discrete = (x % 1 == 0).all() and x.nunique() <= 25
            for cls in (0, 1):
                v = x[data[TARGET] == cls]
                if discrete:
                    levels = np.arange(int(x.min()), int(x.max()) + 1)
                    share = v.value_counts(normalize=True).reindex(levels, fill_value=0.0)
                    offset = -0.2 if cls == 0 else 0.2
                    ax.bar(levels + offset, share.to_numpy(), width=0.4, color=CLASS_COLORS[cls],
                           label=CLASS_NAMES[cls], alpha=0.9)
                else:
                    bins = np.histogram_bin_edges(x, bins=20)
                    ax.hist(v, bins=bins, density=False, weights=np.full(len(v), 1 / len(v)), histtype="stepfilled",
                            alpha=0.45, color=CLASS_COLORS[cls], label=CLASS_NAMES[cls])
                    ax.hist(v, bins=bins, weights=np.full(len(v), 1 / len(v)), histtype="step", linewidth=1.2,
                            color=CLASS_COLORS[cls])
            ax.set_title(textwrap.fill(variable_label(var), 20), fontsize=9)
            if discrete:
                ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True, nbins=6))
            ax.set_xlabel(AXIS_UNITS.get(var, ""))
            ax.set_ylabel("Share of class")
        for ax in axes[len(variables):]:
            ax.set_visible(False)
        handles, labels_ = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels_, loc="outside lower center", ncols=2, title=None)
    return fig


def phik_square(res: Results) -> pd.DataFrame:
    long = res["phik_matrix"]
    order = list(dict.fromkeys(long["variable_a"]))
    return long.pivot(index="variable_a", columns="variable_b", values="phik").loc[order, order]


def fig_phik_heatmap(res: Results) -> Figure:
    m = phik_square(res)
    n = len(m)
    values = m.to_numpy(dtype=float)
    mask = np.triu(np.ones_like(values, dtype=bool), k=1)
    shown = np.ma.masked_array(values, mask)
    with _style():
        fig = _figure(5.9)
        ax = fig.add_subplot()
        image = ax.imshow(shown, cmap="cividis", vmin=0, vmax=1)
        labels_ = [SHORT_LABELS.get(v, v) for v in m.index]
        ax.set_xticks(range(n), labels_, rotation=50, ha="right", rotation_mode="anchor")
        ax.set_yticks(range(n), labels_)
        for i in range(n):
            for j in range(i + 1):
                v = values[i, j]
                if i != j and v >= 0.1:
                    ax.text(j, i, f"{v:.2f}".lstrip("0"), ha="center", va="center", fontsize=8,
                            color="black" if v > 0.55 else "white")
        ax.spines[["left", "bottom"]].set_visible(False)
        ax.tick_params(length=0)
        bar = fig.colorbar(image, ax=ax, shrink=0.7, pad=0.02)
        bar.set_label("phik correlation (0 = none, 1 = perfect)")
    return fig


def fig_phik_target(res: Results) -> Figure:
    t = res["phik_target"].sort_values("phik")
    significant = t["p_value"] < alpha(res)
    with _style():
        fig = _figure(0.19 * len(t) + 0.9)
        ax = fig.add_subplot()
        y = np.arange(len(t))
        colors = np.where(significant, OKABE_ITO["blue"], OKABE_ITO["grey"])
        ax.barh(y, t["phik"], color=colors)
        ax.set_yticks(y, [variable_label(v) for v in t["variable"]])
        for yi, (v, z) in enumerate(zip(t["phik"], t["significance_z"])):
            ax.text(v + 0.01, yi, f"{v:.2f}  (z = {z:.1f})", va="center", fontsize=8)
        ax.set_xlim(0, max(1.0, t["phik"].max() + 0.25))
        ax.set_xlabel("phik correlation with «activity declined»")
        from matplotlib.patches import Patch
        ax.legend([Patch(color=OKABE_ITO["blue"]), Patch(color=OKABE_ITO["grey"])],
                  [f"significant (p < {alpha(res):g})", "not significant"], loc="lower right")
    return fig


def fig_risk_profit(res: Results) -> Figure:
    o = res["offers"]
    th = thresholds(res)
    rng = np.random.default_rng(0)
    jitter = rng.uniform(-0.02, 0.02, len(o))  # profit has two decimals; a little jitter shows overlapping points
    with _style():
        fig = _figure(3.9)
        ax = fig.add_subplot()
        for seg in GRID_SEGMENTS:
            sel = (o["segment"] == seg).to_numpy()
            ax.scatter(o["p_decline"][sel], o["profit"][sel] + jitter[sel], s=7, alpha=0.7,
                       color=SEGMENT_COLORS[seg], label=f"{segment_label(seg)} ({fmt_int(sel.sum())})", linewidths=0)
        ax.axvline(th["risk"], color="black", linestyle="--", linewidth=0.9)
        ax.axhline(th["profit"], color="black", linestyle=":", linewidth=0.9)
        ax.text(th["risk"], ax.get_ylim()[1], f" risk threshold {th['risk']:.2f}", va="top", ha="left", fontsize=8)
        ax.text(th["risk"] + 0.01, th["profit"], f"profit threshold {th['profit']:.2f}", va="bottom", ha="left", fontsize=8,
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1})
        ax.set_xlim(-0.02, 1.02)
        ax.set_xlabel("P(decline over the next three months), out-of-fold, business model")
        ax.set_ylabel("Average monthly profit (units as exported)")
        fig.legend(loc="outside lower center", ncols=2, markerscale=2.5)
    return fig




def fig_ame(res: Results) -> Figure:
    """AMEs of the business model (lead) with the plain logit's (sensitivity) beside them."""
    m = res["marginal_effects"]
    units = units_of(res)
    lead = m[m["role"] == "lead"].copy()
    sens = m[m["role"] == "sensitivity"].set_index(["variable", "contrast"])
    lead["label"] = [contrast_label(t, c) + (f" ({ame_unit(t, c, units)})" if " - " not in str(c) else "")
                     for t, c in zip(lead["variable"], lead["contrast"])]
    lead = lead.sort_values("estimate").reset_index(drop=True)
    labels_, y, rows_height = _rows(lead["label"])
    offset = 0.16 * ROW_IN  # the two models' intervals side by side within a row
    with _style():
        fig = _figure(rows_height + 1.25)
        ax = fig.add_subplot()
        ax.errorbar(100 * lead["estimate"], y + offset, xerr=[100 * (lead["estimate"] - lead["conf_low"]),
                                                            100 * (lead["conf_high"] - lead["estimate"])],
                    fmt="o", color=OKABE_ITO["vermillion"], capsize=2, markersize=4,
                    label=f"business model, {model_label(lead['model'].iloc[0], short=True)} ({CI})")
        keys = list(zip(lead["variable"], lead["contrast"]))
        have = [k in sens.index for k in keys]
        if any(have):
            s = sens.loc[[k for k, h in zip(keys, have) if h]]
            ys = y[np.array(have)] - offset
            ax.errorbar(100 * s["estimate"], ys, xerr=[100 * (s["estimate"] - s["conf_low"]),
                                                       100 * (s["conf_high"] - s["estimate"])],
                        fmt="s", color=OKABE_ITO["grey"], capsize=2, markersize=3.5, label="plain logit (sensitivity)")
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_yticks(y, labels_)
        ax.set_ylim(0, rows_height)
        ax.set_xlabel("Average marginal effect on P(decline over\nthe next three months), percentage points")
        fig.legend(loc="outside lower center", ncols=2)
    return fig


def fig_conditional_effects(res: Results) -> Figure:
    """Odds ratio of each product variable at the quartiles of its partner, with intervals: one group of rows per
    variable and partner, headed by the variable's name in bold."""
    c = res["conditional_effects"]
    pairs = list(dict.fromkeys(zip(c["variable"], c["partner"])))
    groups = [(variable, partner, c[(c["variable"] == variable) & (c["partner"] == partner)]
               .sort_values("partner_quantile")) for variable, partner in pairs]
    n_rows = sum(len(sub) + 1 for _v, _p, sub in groups)
    gap = 0.5  # rows between groups
    with _style():
        fig = _figure(ROW_IN * (n_rows + gap * (len(groups) - 1)) + 1.25)
        ax = fig.add_subplot()
        labels_, ticks, heads = [], [], []
        y = 0.0
        for variable, partner, sub in groups:
            ticks.append(y)
            labels_.append(variable_label(variable))
            heads.append(True)
            y += 1
            for r in sub.itertuples():
                ax.errorbar(r.odds_ratio, y, xerr=[[r.odds_ratio - r.or_conf_low], [r.or_conf_high - r.odds_ratio]],
                            fmt="o", color=OKABE_ITO["blue"], capsize=2, markersize=4)
                ticks.append(y)
                labels_.append(f"at {variable_label(partner).lower()} = {r.partner_value:g}")
                heads.append(False)
                y += 1
            y += gap
        ax.axvline(1, color="black", linewidth=0.8)
        ax.set_xscale("log")
        _log_ticks(ax, "x")
        ax.set_yticks(ticks, labels_)
        for label, head in zip(ax.get_yticklabels(), heads):
            if head:
                label.set_fontweight("bold")
        ax.tick_params(axis="y", length=0)
        ax.set_ylim(y - gap - 0.5, -0.6)
        ax.set_xlabel(f"Odds ratio per unit of the variable at the\npartner's quartiles ({CI}, log scale)")
    return fig


def fig_calibration(res: Results) -> Figure:
    """Reliability of the business model's out-of-fold probabilities and of the inference model's, and the
    distribution of the business probabilities by class."""
    h = headline(res)
    curves = res["calibration_curve"]
    oof = res["oof_predictions"]
    with _style():
        fig = _figure(3.3)
        ax, hx = fig.subplots(1, 2, width_ratios=[1.1, 1])
        ax.plot([0, 1], [0, 1], "--", color=OKABE_ITO["grey"], label="perfect calibration")
        styles = [(h["business_model"], OKABE_ITO["blue"], "o-"), (h["inference_model"], OKABE_ITO["orange"], "s:")]
        for model, color, fmt in dict.fromkeys(styles):
            curve = curves[curves["model"] == model]
            if curve.empty:
                continue
            ax.errorbar(curve["mean_predicted"], curve["observed_rate"],
                        yerr=[curve["observed_rate"] - curve["conf_low"], curve["conf_high"] - curve["observed_rate"]],
                        fmt=fmt, color=color, capsize=2, markersize=4, label=model_label(model, short=True))
        ax.set_xlim(0, 1), ax.set_ylim(0, 1.03)
        ax.set_xlabel("Mean predicted P(decline),\nout-of-fold")
        ax.set_ylabel("Observed share declined")
        ax.legend(loc="upper left")
        bins = np.linspace(0, 1, 21)
        for cls in (0, 1):
            v = oof.loc[oof["y_true"] == cls, h["business_model"]]
            hx.hist(v, bins=bins, alpha=0.55, color=CLASS_COLORS[cls], label=CLASS_NAMES[cls])
        hx.set_xlabel("Predicted P(decline), out-of-fold,\nbusiness model")
        hx.set_ylabel("Customers")
        hx.legend(loc="upper center")
    return fig


def fig_roc(res: Results) -> Figure:
    curves = res["roc_curves"]
    business = headline(res)["business_model"]
    models = [m for m in dict.fromkeys(curves["model"]) if not str(m).endswith("_recalibrated")]
    with _style():
        fig = _figure(4.0)
        ax = fig.add_subplot()
        ax.plot([0, 1], [0, 1], color=OKABE_ITO["grey"], linewidth=0.8, linestyle=(0, (1, 2)))
        for model in models:
            curve = curves[curves["model"] == model]
            color, style = MODEL_STYLES.get(model, (OKABE_ITO["black"], "-"))
            ax.plot(curve["fpr"], curve["tpr"], color=color, linestyle=style,
                    linewidth=1.6 if business.startswith(model) else 1.0,
                    label=f"{model_label(model, short=True)} (AUC {curve['pooled_auc'].iloc[0]:.3f})")
        ax.set_xlabel("False-positive rate\n(share of stable customers flagged)")
        ax.set_ylabel("True-positive rate\n(share of declines flagged)")
        ax.set_xlim(0, 1), ax.set_ylim(0, 1.01)
        fig.legend(loc="outside right center", title="Pooled out-of-fold AUC")
    return fig


def fig_benchmark(res: Results) -> Figure:
    b = res["model_benchmark"].iloc[::-1].reset_index(drop=True)
    business = headline(res)["business_model"]
    with _style():
        fig = _figure(0.3 * len(b) + 1.0)
        ax = fig.add_subplot()
        y = np.arange(len(b))
        ax.errorbar(b["auc_mean"], y, xerr=[b["auc_mean"] - b["auc_conf_low"], b["auc_conf_high"] - b["auc_mean"]],
                    fmt="o", color=OKABE_ITO["blue"], capsize=3, label=f"mean CV AUC, corrected {CI}")
        ax.plot(b["test_auc"], y, "D", color=OKABE_ITO["orange"], markersize=5, label="single hold-out AUC")
        chosen = b.loc[b["model"] == business, "auc_mean"]
        if len(chosen):
            ax.axvline(float(chosen.iloc[0]), color=OKABE_ITO["grey"], linestyle="--", linewidth=0.8,
                       label="business model, mean CV AUC")
        ax.set_yticks(y, [model_label(m, short=True) for m in b["model"]])
        ax.set_xlabel("ROC AUC")
        fig.legend(loc="outside lower center", ncols=3)
    return fig


def fig_profit_at_risk(res: Results) -> Figure:
    """The executive-summary figure: upper-bound profit at risk and customers of the four segments."""
    grid = res["segments"][res["segments"]["kind"] == "grid"].set_index("segment")
    order = [s for s in GRID_SEGMENTS if s in grid.index][::-1]
    with _style():
        fig = _figure(2.0)
        ax = fig.add_subplot()
        y = np.arange(len(order))
        values = grid.loc[order, "profit_at_risk_upper"].to_numpy(float)
        ax.barh(y, values, color=[SEGMENT_COLORS[s] for s in order], height=0.65)
        for yi, seg, v in zip(y, order, values):
            ax.text(v, yi, f"  {v:,.0f}  ({fmt_int(grid.loc[seg, 'n_customers'])} customers)", va="center",
                    fontsize=8.5)
        ax.set_yticks(y, [segment_label(s) for s in order])
        ax.set_xlim(0, values.max() * 1.45)
        ax.set_xlabel("Profit at risk per month, upper bound (profit units):\nΣ P(decline) × monthly profit")
    return fig


#: Order of the models in the forest plot of effects (candidates, then the business model and its bootstrap).
EFFECT_ORDER = ("logit_linear", "logit_promo_flexible", "logit_selected", "logit_floor", "gam_engagement")


def fig_effects_by_model(res: Results) -> Figure:
    """Forest plot: each action's scenario among all high-risk customers (change in P(decline) over the next three
    months, pp) under every interpretable candidate (delta-method intervals, conditional on the fitted model) and
    under the business model (delta method), and the decision's own estimate with the customer bootstrap of the whole
    procedure (the inference model's change: analysis.decisions.decide.EFFECT_SCALE); one panel per action, store actions
    first."""
    e = res["effects_by_model"]
    e = e[e["quantity"] == "scenario"]
    order = [a for a in res["levers"]["action"] if a in set(e["action"])]
    kinds = res["levers"].set_index("action")["kind"]
    business = str(res["headline"]["business_model"].iloc[0])
    rows_per = []
    for action in order:
        sub = e[e["action"] == action]
        rows = [sub[(sub["model"] == m) & (sub["interval"] == "delta")] for m in EFFECT_ORDER]
        if business not in EFFECT_ORDER:
            rows.append(sub[(sub["model"] == business) & (sub["interval"] == "delta")])
        rows.append(sub[sub["interval"] == "bootstrap"])
        rows_per.append([r.iloc[0] for r in rows if len(r)])
    n_rows = sum(len(r) for r in rows_per)
    with _style():
        fig = _figure(0.15 * n_rows + 0.35 * len(order) + 0.5)
        axes = fig.subplots(len(order), 1, sharex=True, gridspec_kw={"height_ratios": [len(r) for r in rows_per]})
        axes = np.atleast_1d(axes)
        for ax, action, rows in zip(axes, order, rows_per):
            y = np.arange(len(rows))[::-1]
            for yi, r in zip(y, rows):
                boot = r["interval"] == "bootstrap"
                color = OKABE_ITO["vermillion"] if boot else OKABE_ITO["black"]
                ax.errorbar(100 * r["estimate"], yi, xerr=[[100 * (r["estimate"] - r["conf_low"])],
                                                           [100 * (r["conf_high"] - r["estimate"])]],
                            fmt="o", color=color, markersize=3.5, capsize=2, linewidth=1)
            labels = [model_label(r["model"], short=True) + (" (bootstrap)" if r["interval"] == "bootstrap" else "")
                      for r in rows]
            ax.set_yticks(y, labels, fontsize=7.5)
            ax.set_ylim(-0.7, len(rows) - 0.3)
            ax.axvline(0, color="grey", linewidth=0.8)
            title = lever_label(action).replace(" (with consent)", "")
            ax.set_title(f"{title} — store action" if kinds.get(action) == "action" else title, loc="left",
                         fontsize=8.5)
        axes[-1].set_xlabel("Change in P(decline over the next three months), pp,\namong the high-risk customers "
                            "the action reaches", fontsize=8)
    return fig
