"""``gridlens zones | brief | evaluate`` on the demo database and on incident files."""

from __future__ import annotations

import json
import shutil

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from openpyxl import load_workbook

from gis import planning, store
from gis.cli import main
from gis.viz import external_urls
from tests.planning.cases import (
    AREA_M,
    LEADER,
    constructed,
    to_ll,
)

# --------------------------------------------------------------------------------------------
# Command line on the demo database


@pytest.fixture
def demo_copy(demo_db, tmp_path):
    path = tmp_path / "demo_copy.db"
    shutil.copy(demo_db, path)
    return str(path)


def test_cli_zones_brief_evaluate(demo_copy, demo_small, tmp_path, capsys):
    db = demo_copy
    out = tmp_path / "zones.geojson"
    args = ["zones", "--db", db, "--top", "3", "--out", str(out), "--lang", "en"]
    assert main([*args, "--start", "2026-06-01", "--end", "2026-08-01"]) == 0
    text = capsys.readouterr().out
    assert "proposed zone" in text and "#1:" in text
    zones = gpd.read_file(out)
    assert 1 <= len(zones) <= 3
    persistent = next(h for h in demo_small.truth["hotspots"] if h["pattern"] == "persistent")
    assert zones.geometry.iloc[0].contains(shapely.Point(persistent["center_lonlat"]))

    op = next(o for o in demo_small.truth["operations"] if o["expected"] == "displacement")
    html_out = tmp_path / "brief.html"
    codes = ",".join(op["micro_codes"])
    assert (
        main(
            [
                "brief",
                "--db",
                db,
                "--grids",
                codes,
                "--out",
                str(html_out),
                "--start",
                "2026-01-01",
                "--end",
                "2026-04-01",
            ]
        )
        == 0
    )
    page = html_out.read_text(encoding="utf-8")
    assert external_urls(page) == [] and "城管" in page and "16:00" in page
    assert "牵头部门" in capsys.readouterr().out

    area_file = tmp_path / "market.geojson"
    gpd.GeoDataFrame(
        {"name": ["market"]}, geometry=[shapely.from_wkt(op["area_wkt"])], crs=4326
    ).to_file(area_file)
    args = [
        "evaluate",
        "--db",
        db,
        "--area",
        str(area_file),
        "--buffer-m",
        "400",
        "--before",
        "2026-03-01:2026-04-01",
        "--after",
        "2026-04-01:2026-05-01",
        "--category",
        "05-04",
    ]
    assert main([*args, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {
        "area_before",
        "area_after",
        "buffer_before",
        "buffer_after",
        "control_before",
        "control_after",
        "wdq",
        "verdict",
    } <= set(result)
    assert result["verdict"] in ("displacement", "effective_displacement") and result["wdq"] < 0
    assert main([*args, "--lang", "en"]) == 0
    assert "WDQ" in capsys.readouterr().out

    engine = store.open_store(db)
    pid = planning.save_plan(
        engine,
        name=op["name"],
        area=op["area_wkt"],
        period_start=op["start"],
        period_end=op["end"],
        departments="chengguan;scjg",
        user=LEADER,
    )
    engine.dispose()
    assert (
        main(
            [
                "evaluate",
                "--db",
                db,
                "--plan",
                str(pid),
                "--buffer-m",
                "400",
                "--category",
                "05-04",
                "--json",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["verdict"] in (
        "displacement",
        "effective_displacement",
    )
    xlsx = tmp_path / "plan.xlsx"
    args = ["brief", "--db", db, "--plan", str(pid), "--out", str(xlsx), "--lang", "en"]
    assert main([*args, "--start", "2026-03-01", "--end", "2026-04-01"]) == 0
    assert "Categories" in load_workbook(xlsx, read_only=True).sheetnames
    capsys.readouterr()
    assert main(["brief", "--db", db, "--plan", str(pid), "--out", str(tmp_path / "x.pdf")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gridlens: error:") and ".html or .xlsx" in err[0]
    assert main(["evaluate", "--db", db, "--area", str(area_file)]) == 1
    assert "--before" in capsys.readouterr().err


def test_cli_evaluate_incident_file_without_database(tmp_path, capsys):
    inc = constructed(100, 50, 100, 160, 1000, 1000)
    inc["occurred_at"] = inc["occurred_at"].dt.strftime("%Y-%m-%d %H:%M:%S")
    inc_file = tmp_path / "inc.geojson"
    inc.to_file(inc_file)
    area_file = tmp_path / "area.geojson"
    gpd.GeoDataFrame(geometry=[to_ll(AREA_M)], crs=4326).to_file(area_file)
    rc = main(
        [
            "evaluate",
            "--area",
            str(area_file),
            "--incidents",
            str(inc_file),
            "--before",
            "2026-03-01:2026-04-01",
            "--after",
            "2026-04-01:2026-05-01",
            "--json",
        ]
    )
    assert rc == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["area_before"], result["area_after"], result["buffer_after"]) == (100, 50, 160)
    # no database, so no district: the incidents' hull, which takes in the point 5 km away
    assert result["control_before"] == 1001
    hand = (160 / 1000 - 100 / 1001) / (50 / 1000 - 100 / 1001)
    assert result["wdq"] == pytest.approx(hand) and result["verdict"] == "displacement"


def test_cli_evaluate_reads_incident_files_as_hotspots_does(tmp_path, capsys):
    # drift fixed (issue 12): `evaluate --incidents` refused a CSV whose time column is `time`
    # ("needs an occurred_at column") while `hotspots --incidents` read it; one reader now
    inc = constructed(100, 50, 100, 160, 1000, 1000)
    csv = tmp_path / "inc.csv"
    pd.DataFrame(
        {
            "time": inc["occurred_at"].dt.strftime("%Y/%m/%d %H:%M"),
            "category": inc["category_code"],
            "lon": inc.geometry.x,
            "lat": inc.geometry.y,
        }
    ).to_csv(csv, index=False)
    area_file = tmp_path / "area.geojson"
    gpd.GeoDataFrame(geometry=[to_ll(AREA_M)], crs=4326).to_file(area_file)
    args = ["evaluate", "--area", str(area_file), "--incidents", str(csv)]
    args += ["--before", "2026-03-01:2026-04-01", "--after", "2026-04-01:2026-05-01", "--json"]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    counts = tuple(
        result[f"{where}_{when}"]
        for where in ("area", "buffer", "control")
        for when in ("before", "after")
    )
    assert counts == (100, 50, 100, 160, 1001, 1000)
    assert result["verdict"] == "displacement"
    # a file without any time column says so in one line
    pd.DataFrame({"lon": [112.93], "lat": [35.8]}).to_csv(tmp_path / "no_time.csv", index=False)
    assert main([*args[:4], str(tmp_path / "no_time.csv"), *args[5:]]) == 1
    assert "no time column" in capsys.readouterr().err
