"""SVG charts: valid SVG, accessible names, values and proportions, escaped labels."""

from __future__ import annotations

from decimal import Decimal
from xml.etree import ElementTree

from reports.charts import bar_chart, format_figure, funnel_chart

NS = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ElementTree.Element:
    return ElementTree.fromstring(str(markup))  # noqa: S314 (generated here)


def test_bar_chart_is_valid_accessible_svg_with_proportional_bars() -> None:
    svg = parse(bar_chart("Applications by dialogue", [("Rabat Process", 30), ("C2CMMD", 15)],
                          chart_id="c1"))
    assert svg.tag == f"{NS}svg"
    assert svg.get("role") == "img"
    assert svg.get("aria-labelledby") == "c1-title c1-desc"
    assert svg.find(f"{NS}title").text == "Applications by dialogue"
    assert svg.find(f"{NS}desc").text == "Rabat Process: 30; C2CMMD: 15"
    bars = svg.findall(f"{NS}g")
    assert [b.get("data-label") for b in bars] == ["Rabat Process", "C2CMMD"]
    assert [b.find(f"{NS}title").text for b in bars] == ["Rabat Process: 30", "C2CMMD: 15"]
    widths = [float(b.find(f"{NS}rect").get("width")) for b in bars]
    assert widths[0] == 2 * widths[1] > 0


def test_money_bars_show_the_unit_and_two_decimals() -> None:
    svg = parse(bar_chart("Money", [("Envelope", Decimal("600000.00"))], unit="EUR"))
    assert svg.find(f"{NS}g").find(f"{NS}title").text == "Envelope: EUR 600,000.00"
    assert format_figure(1234567) == "1,234,567"


def test_labels_are_escaped() -> None:
    markup = str(bar_chart("<b>x</b>", [('<script>alert("x")</script>', 1)]))
    assert "<script>" not in markup and "<b>" not in markup
    svg = parse(markup)
    assert svg.find(f"{NS}g").get("data-label") == '<script>alert("x")</script>'


def test_empty_and_zero_charts_are_still_valid() -> None:
    svg = parse(bar_chart("Nothing", []))
    assert svg.find(f"{NS}desc").text == "No data."
    zero = parse(bar_chart("Zeros", [("a", 0), ("b", 0)]))
    assert {r.get("width") for r in zero.iter(f"{NS}rect")} == {"0.0"}


def test_funnel_steps_shrink_with_their_counts_and_give_shares() -> None:
    svg = parse(funnel_chart("Funnel", [("Submitted", 200), ("Admitted", 150), ("Awarded", 20)],
                             chart_id="f"))
    steps = svg.findall(f"{NS}g")
    assert [s.get("data-value") for s in steps] == ["200", "150", "20"]
    widths = [float(s.find(f"{NS}rect").get("width")) for s in steps]
    assert widths[0] > widths[1] > widths[2]
    assert abs(widths[1] / widths[0] - 0.75) < 0.01
    assert steps[2].find(f"{NS}title").text == "Awarded: 20 (10%)"
    # Centred: each step's middle is the chart's middle.
    middles = {round(float(s.find(f"{NS}rect").get("x")) + w / 2) for s, w in zip(steps, widths,
                                                                                    strict=True)}
    assert middles == {280}
