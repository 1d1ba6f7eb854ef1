"""``parley sites import`` and ``parley sites list``: all or nothing per file, bad rows named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from parley.services import MORATORIUM_CATEGORIES, Node
from tests.cli.test_cli import invoke, node_dir, table_rows  # noqa: F401


@pytest.fixture
def data(node_dir):  # noqa: F811 - the fixture imported above
    """A node's data folder (us-eucom)."""
    return node_dir


GOOD_CSV = (
    "lon,lat,name,category\n"
    "30.1,50.4,Refinery A,refinery\n"
    "31.0,49.0,Pipeline pumping station,pipeline\n"
    "35.1,47.5,Thermal power plant,power_plant\n"
    "34.6,47.6,Substation 330 kV,substation\n"
    "34.6,47.5,Nuclear power plant,nuclear_plant\n"
    "33.4,47.9,Dam,dam\n"
    "\n"
    '36.2,49.9,"Hospital No. 1, Kharkiv",hospital\n'
)


def import_sites(data: Path, file: Path, *extra: str) -> tuple[int, str, str]:
    return invoke("sites", "import", str(file), "--data", str(data), *extra)


def stored(folder: Path) -> list[tuple[str, str, int]]:
    node = Node.open(folder)
    try:
        return node.store.site_counts()
    finally:
        node.close()


def test_a_csv_of_every_moratorium_category_is_imported_and_listed(data, tmp_path):
    file = tmp_path / "moratorium.csv"
    file.write_text(GOOD_CSV, "utf-8")

    code, out, err = import_sites(
        data,
        file,
        "--agreement",
        "energy moratorium 2025",
        "--valid-from",
        "2025-03-18T00:00:00Z",
        "--valid-until",
        "2025-04-17T00:00:00Z",
    )

    assert code == 0, err
    assert "Imported 7 sites from moratorium.csv" in out
    code, out, _ = invoke("sites", "list", "--data", str(data))
    rows = table_rows(out)
    assert {row[1].removesuffix(" (moratorium)") for row in rows} == {
        *MORATORIUM_CATEGORIES,
        "hospital",
    }
    assert all(row[0] == "energy moratorium 2025" and row[2] == "1" for row in rows)
    assert "7 sites" in out
    node = Node.open(data)
    try:
        [site] = [s for s in node.store.list_sites(0, 100) if s.category == "hospital"]
    finally:
        node.close()
    assert (site.name, site.lon, site.lat) == ("Hospital No. 1, Kharkiv", 36.2, 49.9)
    assert site.valid_until_ms - site.valid_from_ms == 30 * 86_400_000


def test_a_geojson_of_points_and_polygons_is_imported(data, tmp_path):
    square = [[[33.0, 47.0], [33.1, 47.0], [33.1, 47.1], [33.0, 47.1], [33.0, 47.0]]]
    file = tmp_path / "sites.geojson"
    file.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "geometry": {"type": "Point", "coordinates": [30.5, 50.45]},
                        "properties": {"name": "School 12", "category": "school"},
                    },
                    {
                        "type": "Feature",
                        "geometry": {"type": "Polygon", "coordinates": square},
                        "properties": {
                            "name": "Reservoir dam",
                            "category": "dam",
                            "note": "ignored",
                        },
                    },
                ],
            }
        ),
        "utf-8",
    )

    code, _, err = import_sites(data, file)

    assert code == 0, err
    assert stored(data) == [("", "dam", 1), ("", "school", 1)]
    node = Node.open(data)
    try:
        dam = next(s for s in node.store.list_sites(0, 10) if s.category == "dam")
    finally:
        node.close()
    assert dam.geometry == {"type": "Polygon", "coordinates": square}
    assert dam.lon == pytest.approx(33.05, abs=0.05)  # a point inside the polygon
    assert dam.lat == pytest.approx(47.05, abs=0.05)


def test_bad_csv_rows_are_each_named_by_line_and_nothing_is_imported(data, tmp_path):
    file = tmp_path / "bad.csv"
    lines = GOOD_CSV.splitlines()
    lines[2] = "31.0,95,Pipeline,pipeline"  # line 3
    lines[4] = "34.6,47.6,Castle,castle"  # line 5
    lines.append("east,47.0,Somewhere,dam")  # line 10
    file.write_text("\n".join(lines) + "\n", "utf-8")

    code, _, err = import_sites(data, file)

    assert code == 2
    assert "nothing imported" in err
    assert "line 3: lat must be a latitude between -90 and 90, not '95'" in err
    assert "line 5: category 'castle' is not one of" in err
    assert "line 10: lon must be a longitude" in err
    assert "line 2" not in err
    assert stored(data) == []


def test_bad_geojson_features_are_named_by_index_and_nothing_is_imported(data, tmp_path):
    file = tmp_path / "bad.geojson"
    bowtie = [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]
    file.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "geometry": {"type": "Point", "coordinates": [30.5, 50.45]},
                        "properties": {"name": "Hospital", "category": "hospital"},
                    },
                    {
                        "type": "Feature",
                        "geometry": {"type": "Polygon", "coordinates": bowtie},
                        "properties": {"name": "Plant", "category": "power_plant"},
                    },
                    {
                        "type": "Feature",
                        "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
                        "properties": {"name": "Line", "category": "pipeline"},
                    },
                    {
                        "type": "Feature",
                        "geometry": {"type": "Point", "coordinates": [1, 2]},
                        "properties": {"category": "dam"},
                    },
                ],
            }
        ),
        "utf-8",
    )

    code, _, err = import_sites(data, file)

    assert code == 2
    assert "feature 1: geometry is not a valid Polygon: Self-intersection" in err
    assert "feature 2: geometry must be a GeoJSON Point, Polygon or MultiPolygon" in err
    assert "feature 3: name is missing" in err
    assert "feature 0" not in err
    assert stored(data) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("x,y,name,category\n1,2,a,dam\n", "line 1 must be the header lon,lat,name,category"),
        ("", "bad.csv is empty"),
    ],
)
def test_a_csv_without_its_header_is_refused(data, tmp_path, content, message):
    file = tmp_path / "bad.csv"
    file.write_text(content, "utf-8")
    code, _, err = import_sites(data, file)
    assert code == 2
    assert message in err


def test_a_term_ending_before_it_starts_is_refused(data, tmp_path):
    file = tmp_path / "ok.csv"
    file.write_text(GOOD_CSV, "utf-8")
    code, _, err = import_sites(
        data, file, "--valid-from", "2025-04-17T00:00:00Z", "--valid-until", "2025-03-18T00:00:00Z"
    )
    assert code == 2
    assert "valid_until: must be after valid_from" in err
