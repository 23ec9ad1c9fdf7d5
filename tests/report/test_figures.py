"""Every figure of analysis/report/figures.py: no text outside the canvas, no two texts overlapping.

Each ``fig_*`` function is drawn on the synthetic run and on the quick run of the real exports (the session
fixture ``real_quick_run``); every visible, non-empty text (titles, axis and tick labels, legends, annotations, colour bars)
must lie inside the canvas, and no two may overlap (rotated texts as rotated rectangles, not as their bounding
boxes). This is what clipped Figures 5, 6 and 7 ("(9!", "three mont", "business mo") and ran Figure 11's panel
titles together.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
from matplotlib.text import Text

from analysis import report as R
from analysis.report import figures

FIGURES = sorted(name for name, fn in inspect.getmembers(figures, inspect.isfunction)
                 if name.startswith("fig_") and fn.__module__ == figures.__name__)
#: Pixels a text may touch another or the edge (anti-aliasing, the leading inside a text's box).
TOLERANCE = 1.0


def visible_texts(fig) -> list[Text]:
    """The texts the renderer draws: figure texts, legends and, per axes, title, labels, texts, tick labels."""
    texts: list[Text] = list(fig.texts)
    legends = list(fig.legends)
    for text in (getattr(fig, "_suptitle", None), getattr(fig, "_supxlabel", None), getattr(fig, "_supylabel", None)):
        if text is not None:
            texts.append(text)
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        texts += [ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label, *ax.texts]
        for axis in (ax.xaxis, ax.yaxis):
            # the ticks matplotlib draws (inside the view limits); get_ticklabels also lists those outside
            for tick in axis._update_ticks():
                texts += [label for label in (tick.label1, tick.label2) if label.get_visible()]
        if ax.get_legend() is not None:
            legends.append(ax.get_legend())
    for legend in legends:
        if legend.get_visible():
            texts += [*legend.get_texts(), legend.get_title()]
    return [t for t in texts if t.get_visible() and t.get_text().strip() and t.get_alpha() != 0]


def corners(text: Text, renderer) -> np.ndarray:
    """The four corners (display pixels) of a text's box, rotated with the text."""
    box = text.get_window_extent(renderer)
    angle = text.get_rotation()
    if angle % 180 == 0:
        return np.array([[box.x0, box.y0], [box.x1, box.y0], [box.x1, box.y1], [box.x0, box.y1]])
    text.set_rotation(0)
    flat = text.get_window_extent(renderer)
    text.set_rotation(angle)
    w, h, a = flat.width, flat.height, math.radians(angle)
    rect = np.array([[0, 0], [w, 0], [w, h], [0, h]]) @ np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]])
    return rect - rect.min(axis=0) + [box.x0, box.y0]  # the rotated box's bounding box is the window extent


def overlap(a: np.ndarray, b: np.ndarray) -> bool:
    """Separating-axis test of two convex quadrilaterals, each shrunk by TOLERANCE pixels."""
    def shrink(p):
        centre = p.mean(axis=0)
        return centre + (p - centre) * np.maximum(0, 1 - TOLERANCE / np.maximum(np.abs(p - centre).max(), 1e-9))
    a, b = shrink(a), shrink(b)
    for poly in (a, b):
        for i in range(4):
            edge = poly[(i + 1) % 4] - poly[i]
            axis = np.array([-edge[1], edge[0]])
            pa, pb = a @ axis, b @ axis
            if pa.max() <= pb.min() or pb.max() <= pa.min():
                return False
    return True


def layout_problems(fig) -> list[str]:
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    width, height = fig.canvas.get_width_height()
    texts = visible_texts(fig)
    boxes = [corners(t, renderer) for t in texts]
    problems = []
    for text, box in zip(texts, boxes):
        if box[:, 0].min() < -TOLERANCE or box[:, 1].min() < -TOLERANCE or \
                box[:, 0].max() > width + TOLERANCE or box[:, 1].max() > height + TOLERANCE:
            problems.append(f"outside the canvas ({width}x{height} px): {text.get_text()!r} at "
                            f"x {box[:, 0].min():.0f}..{box[:, 0].max():.0f}, y {box[:, 1].min():.0f}..{box[:, 1].max():.0f}")
    for i in range(len(texts)):
        for j in range(i + 1, len(texts)):
            if overlap(boxes[i], boxes[j]):
                problems.append(f"overlap: {texts[i].get_text()!r} and {texts[j].get_text()!r}")
    return problems


@pytest.fixture(scope="module", params=["synthetic", "real"])
def results(request, tmp_path_factory):
    if request.param == "synthetic":
        return R.load_results(request.getfixturevalue("synthetic_run"))
    return R.load_results(request.getfixturevalue("real_quick_run"))


def test_every_figure_function_is_checked():
    assert len(FIGURES) >= 11 and "fig_effects_by_model" in FIGURES and "fig_conditional_effects" in FIGURES


@pytest.mark.parametrize("name", FIGURES)
def test_figure_text_inside_and_apart(results, name):
    fig = getattr(figures, name)(results)
    assert fig.get_size_inches()[0] == pytest.approx(figures.WIDTH)
    problems = layout_problems(fig)
    assert not problems, f"{name}:\n  " + "\n  ".join(problems)


def test_the_check_sees_clipping_and_overlap():
    """The checker itself: a label past the edge and two overlapping (also rotated) texts are found."""
    fig = figures._figure(2.0)
    ax = fig.add_subplot()
    ax.set_xlabel("x" * 400)
    ax.text(0.5, 0.5, "first text", rotation=45)
    ax.text(0.52, 0.52, "second text", rotation=45)
    ax.text(0.1, 0.9, "apart", rotation=45)
    problems = layout_problems(fig)
    assert any("outside the canvas" in p and "xxxx" in p for p in problems)
    assert any("'first text' and 'second text'" in p for p in problems)
    assert not any("apart" in p for p in problems)


def test_show_displays_deterministic_svg(results, monkeypatch):
    """The report's figures are SVG (vector: sharp in the PDF and when a phone zooms), the same bytes each time."""
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, **kw: shown.append(obj))
    figures.show(figures.fig_profit_at_risk(results))
    assert len(shown) == 1 and isinstance(shown[0], IPython.display.SVG)
    assert shown[0].data.lstrip().startswith("<svg")  # IPython keeps the <svg> element, without the XML prolog
    assert figures.figure_svg(figures.fig_profit_at_risk(results)) == figures.figure_svg(figures.fig_profit_at_risk(results))
