"""SVG status badges and shields.io endpoint JSON."""
import json
import xml.etree.ElementTree as ET

import pytest

from chalicelib.render import badges
from tests import factories as f
from tests.inert import HOSTILE, assert_inert_xml

SVG = "{http://www.w3.org/2000/svg}"


def texts(svg: bytes) -> list[str]:
    return [t.text for t in ET.fromstring(svg).iter(SVG + "text")]


def fill(svg: bytes) -> str:
    return ET.fromstring(svg).findall(f".//{SVG}g/{SVG}rect")[1].get("fill")


@pytest.mark.parametrize("key, message, colour, shield", [
    ("api", "major outage", "#cf222e", "red"),
    ("web", "operational", "#1a7f37", "brightgreen"),
    ("search", "degraded performance", "#9a6700", "yellow"),
])
def test_component_badges(key, message, colour, shield):
    snap = f.busy_snapshot()
    row = badges.find(snap, f"{key}.svg", ".svg")
    svg = badges.component_svg(snap, row, stale=False)
    assert texts(svg)[-1] == message and fill(svg) == colour
    assert ET.fromstring(svg).find(SVG + "title").text == f"{row['name']}: {message}"
    assert json.loads(badges.component_shields(snap, row, stale=False)) == {
        "schemaVersion": 1, "label": row["name"], "message": message, "color": shield}


def test_stale_badges_are_grey_unknown():
    snap = f.busy_snapshot()
    row = badges.find(snap, "web.svg", ".svg")
    svg = badges.component_svg(snap, row, stale=True)
    assert texts(svg)[-1] == "unknown" and fill(svg) == "#6e7781"
    assert json.loads(badges.page_shields(snap, stale=True))["color"] == "lightgrey"


def test_page_badge():
    snap = f.busy_snapshot()
    svg = badges.page_svg(snap, stale=False)
    assert texts(svg) == ["Acme Status", "Acme Status", "partial system outage",
                          "partial system outage"]
    assert fill(svg) == "#bc4c00"


def test_lookup_by_public_id_or_status_file_key():
    snap = f.busy_snapshot()
    by_id = badges.find(snap, f"{f.cid('api')}.json", ".json")
    assert by_id is badges.find(snap, "api.json", ".json") and by_id["name"] == "API"
    group = next(r for r in snap["components"] if r["group"])
    assert badges.find(snap, f"{group['id']}.svg", ".svg") is group
    assert badges.find(snap, "api.png", ".svg") is None
    assert badges.find(snap, "nope.svg", ".svg") is None


def test_width_follows_the_text_and_long_labels_are_clipped():
    short, long = badges.svg("a", "up", "ok"), badges.svg("a" * 200, "up", "ok")
    w_short, w_long = (int(ET.fromstring(s).get("width")) for s in (short, long))
    assert w_short < w_long < 400
    assert texts(long)[0] == "a" * 47 + "…"


def test_hostile_names_are_escaped_in_svg_and_json():
    snap = f.busy_snapshot(HOSTILE)
    row = badges.find(snap, "api.svg", ".svg")
    for svg in (badges.component_svg(snap, row, False), badges.page_svg(snap, False)):
        root = assert_inert_xml(svg)
        assert "<script>alert(1)</script>" in root.find(SVG + "title").text
    shield = json.loads(badges.component_shields(snap, row, False))
    assert shield["label"].startswith("API<script>")          # JSON is data; shields escapes it


def test_not_found_variants():
    assert texts(badges.not_found_svg())[-1] == "unknown component"
    assert json.loads(badges.not_found_shields())["isError"] is True


def test_a_component_the_checker_cannot_see_is_unknown_unless_an_operator_set_it():
    snap = f.busy_snapshot()
    extra = snap["outpost"]["components"][f.cid("api")]
    extra["unknown"] = True
    row = badges.find(snap, "api.svg", ".svg")
    assert texts(badges.component_svg(snap, row, stale=False))[-1] == "unknown"
    extra["overridden"] = True
    assert texts(badges.component_svg(snap, row, stale=True))[-1] == "major outage"
