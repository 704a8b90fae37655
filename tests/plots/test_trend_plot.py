"""The trend plot (evaluations/plots/trend.py): valid SVG with a title and description, escaped text, the baseline
and a result below it told apart by shape and words, not colour alone."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from evaluations.plots.trend import Point, description, trend_svg

NS = "{http://www.w3.org/2000/svg}"


def _points() -> list[Point]:
    return [Point("1. Signed-off <run>", 0.9, 0.85, 0.95, baseline=True), Point("2. Nightly", 0.88, 0.82, 0.94),
            Point("3. Nightly & co", 0.6, 0.52, 0.68, below=True)]


def test_the_svg_parses_and_names_itself():
    svg = trend_svg(_points(), metric="Score", plot_id="t1")
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    assert root.get("role") == "img" and root.get("aria-labelledby") == "t1-title t1-desc"
    assert root.find(f"{NS}title").text == "Trend of Score"
    desc = root.find(f"{NS}desc").text
    assert "Baseline 1. Signed-off <run>: 0.9." in desc
    assert "Significantly below the baseline: 3. Nightly & co." in desc


def test_text_is_escaped():
    svg = trend_svg(_points(), metric="<b>x</b>", plot_id='a"b')
    assert "<run>" not in svg and "&lt;run&gt;" in svg and "<b>" not in svg and 'id="a&quot;b-title"' in svg


def test_shapes_and_words_not_colour_alone():
    root = ET.fromstring(trend_svg(_points(), metric="Score", plot_id="t"))  # noqa: S314
    assert len(root.findall(f"{NS}rect")) == 1  # the baseline: a square
    assert len(root.findall(f"{NS}path")) == 1  # below: a downward triangle ...
    texts = [t.text for t in root.iter(f"{NS}text")]
    assert "below" in texts and "Baseline" in texts  # ... and words
    assert any(line.get("stroke-dasharray") for line in root.iter(f"{NS}line"))  # the baseline line is dashed


def test_no_points_and_no_baseline():
    assert "No results yet" in trend_svg([], metric="Score", plot_id="e")
    assert "No baseline chosen." in description([Point("1", 0.5, 0.4, 0.6)], metric="Score")
