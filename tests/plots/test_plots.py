"""evaluations/plots: every plot is a labelled image (role, title, desc), escapes every text, uses no style
attribute (the CSP), tells significance by shape and words, and parses as XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from evaluations.plots.forest import ForestRow, difference_forest
from evaluations.plots.scores import Bar, Bin, histogram_bins, score_bars, score_histograms
from evaluations.plots.svg import nice_ticks

HOSTILE = '<script>alert("x")</script> & "quotes"'
NS = "{http://www.w3.org/2000/svg}"


def _plots():
    return [
        score_bars([Bar(HOSTILE, 0.5, 0.3, 0.7, 20), Bar("B", None)], title=f"Bars {HOSTILE}", id_prefix="b"),
        score_bars([Bar("A", 2.5, 1.0, 4.0, 5)], title="Raw", id_prefix="r", percent=False),
        difference_forest([ForestRow(HOSTILE, "A", -0.04, -0.07, -0.01, True),
                           ForestRow("C", HOSTILE, 0.01, -0.02, 0.04, False)], title="Forest", id_prefix="f"),
        score_histograms([(HOSTILE, [Bin(0, 0, 3), Bin(1, 1, 7)]), ("Empty", [])], title="Hist", id_prefix="h"),
    ]


@pytest.mark.parametrize("svg", _plots())
def test_a_plot_is_a_labelled_image_with_escaped_text_and_no_style(svg):
    root = ET.fromstring(svg)  # noqa: S314 - our own output; well-formed XML: nothing unescaped broke it
    assert root.get("role") == "img"
    title, desc = root.find(f"{NS}title"), root.find(f"{NS}desc")
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert desc.text and len(desc.text) > 20
    assert "<script" not in svg and "style=" not in svg
    assert not list(root.iter(f"{NS}script"))


def test_the_forest_plot_tells_significance_by_shape_and_words():
    svg = _plots()[2]
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    assert len(list(root.iter(f"{NS}circle"))) == 1 and len(list(root.iter(f"{NS}polygon"))) == 1
    assert "Filled circle: significant after Holm correction" in svg and "not significant" in svg
    assert "No difference" in svg and ">-0<" not in svg


def test_histogram_bins_are_shared_and_cover_every_value():
    assert [(b.low, b.count) for b in histogram_bins([0.0, 1.0, 1.0], proportion=True)] == [(0.0, 1), (1.0, 2)]
    bins = histogram_bins([0.0, 1.0], proportion=True, within=[0.0, 0.5, 1.0])
    assert len(bins) == 10 and sum(b.count for b in bins) == 2 and bins[-1].count == 1
    assert histogram_bins([], proportion=True) == []
    assert nice_ticks(0.0, 1.0) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
