"""One rule per shared idea on the command line (issue 12): every command reads ``--by`` with
the unit grammar, ``--category`` with the category rule, incident files with one reader, and
grid files with the grids package's field guess. Each test failed before the CLI package."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gis import store
from gis.cli import build_parser, main
from gis.units import UNIT_GRAMMAR, UnitSpec

X0, Y0 = 112.90, 35.79  # the south-west corner of conftest's tiny_grids


def one_line_error(capsys) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("gridlens: error: "), err
    return err[0]


# --------------------------------------------------------------------------------------------
# 1. --by: one grammar (gis.units.UnitSpec) for every command

BY_COMMANDS = {
    "coverage": ["coverage", "--out", "c.csv"],
    "gaps": ["gaps", "--out", "g.csv"],
    "hotspots": ["hotspots"],
    "emerging": ["emerging"],
    "zones": ["zones", "--out", "z.geojson"],
}


@pytest.mark.parametrize("command", sorted(BY_COMMANDS))
def test_by_is_read_by_the_unit_grammar(command):
    parser = build_parser()
    args = parser.parse_args([*BY_COMMANDS[command], "--by", " Grid : Micro "])
    assert args.by == UnitSpec("grid", level="micro")
    args = parser.parse_args([*BY_COMMANDS[command], "--by", "h3:11"])
    assert args.by == UnitSpec("h3", h3_resolution=11)


@pytest.mark.parametrize("command", sorted(BY_COMMANDS))
def test_bad_by_is_one_line_naming_the_grammar(command, tmp_path, capsys):
    db = str(tmp_path / "none.db")
    assert main([*BY_COMMANDS[command], "--db", db, "--by", "hexagons"]) == 1
    line = one_line_error(capsys)
    assert "--by" in line and "'hexagons'" in line and UNIT_GRAMMAR in line
    assert not (tmp_path / "none.db").exists()  # refused before anything was opened


# --------------------------------------------------------------------------------------------
# Small files: grids, one patrol walk, incidents of three categories


@pytest.fixture
def grid_file(tiny_grids, tmp_path):
    path = tmp_path / "grids.gpkg"
    tiny_grids[["code", "name", "level", "parent_code", "geometry"]].to_file(path)
    return path


@pytest.fixture
def track_file(tmp_path):
    """One officer walking west to east through the tiny district, a fix every 10 s."""
    t = pd.date_range("2026-05-04 09:00", periods=180, freq="10s")
    pd.DataFrame(
        {
            "staff_code": "P001",
            "time": t.strftime("%Y-%m-%d %H:%M:%S"),
            "lon": np.linspace(X0 + 0.001, X0 + 0.019, len(t)),
            "lat": Y0 + 0.0025,
        }
    ).to_csv(tmp_path / "walk.csv", index=False)
    return tmp_path / "walk.csv"


def incident_table(codes: list[str], times: list[str], *, time_header="occurred_at"):
    n = len(codes)
    return pd.DataFrame(
        {
            "event_id": [f"E{i}" for i in range(n)],
            "category_code": codes,
            time_header: times,
            "lon": X0 + 0.0025 + 0.01 * (np.arange(n) % 2),
            "lat": Y0 + 0.0025 + 0.001 * (np.arange(n) % 3),
        }
    )


CODES = ["05-04", "05-04", "05-05", "06-01", "06-01", "01-02"]


# --------------------------------------------------------------------------------------------
# 2. --category 05: a major class in every command (gis.taxonomy.category_mask)


def test_major_class_in_gaps_keeps_its_codes(grid_file, track_file, tmp_path, capsys):
    inc = tmp_path / "inc.csv"
    incident_table(CODES, ["2026-05-04 08:30"] * len(CODES)).to_csv(inc, index=False)
    args = ["gaps", "--tracks", str(track_file), "--grids", str(grid_file)]
    args += ["--incidents", str(inc), "--start", "2026-05-04", "--end", "2026-05-05"]
    assert main([*args, "--category", "05", "--out", str(tmp_path / "gaps.csv")]) == 0
    assert "; 3 incidents;" in capsys.readouterr().out
    assert main([*args, "--category", "05-05", "--out", str(tmp_path / "gaps.csv")]) == 0
    assert "; 1 incidents;" in capsys.readouterr().out


def test_major_class_in_incidents_export(grid_file, tmp_path, capsys):
    db = str(tmp_path / "g.db")
    assert main(["init", "--db", db]) == 0  # only init/demo create a database
    assert main(["grids", "import", str(grid_file), "--db", db]) == 0
    src = tmp_path / "inc.csv"
    incident_table(CODES, ["2026-05-04 08:30"] * len(CODES)).to_csv(src, index=False)
    assert main(["incidents", "import", str(src), "--db", db]) == 0
    assert f"{len(CODES)} imported" in capsys.readouterr().out
    out = tmp_path / "export.csv"
    assert main(["incidents", "export", "--db", db, "--category", "05", "--out", str(out)]) == 0
    assert sorted(pd.read_csv(out)["category_code"]) == ["05-04", "05-04", "05-05"]
    args = ["incidents", "export", "--db", db, "--category", "06", "--category", "01-02"]
    assert main([*args, "--out", str(out)]) == 0
    assert sorted(pd.read_csv(out)["category_code"]) == ["01-02", "06-01", "06-01"]


# --------------------------------------------------------------------------------------------
# 3 and 4. One incident file reader: offsets converted, the time column found by its name

AREA = shapely.box(X0, Y0, X0 + 0.005, Y0 + 0.005)  # the first micro-grid


def evaluation_files(tmp_path, table: pd.DataFrame):
    area = tmp_path / "area.geojson"
    gpd.GeoDataFrame({"name": ["op"]}, geometry=[AREA], crs=4326).to_file(area)
    inc = tmp_path / "inc.csv"
    table.to_csv(inc, index=False)
    return area, inc


def evaluate_json(area, inc, capsys, *extra: str) -> dict:
    args = ["evaluate", "--area", str(area), "--incidents", str(inc), "--buffer-m", "100"]
    args += ["--before", "2026-03-01:2026-04-01", "--after", "2026-04-01:2026-05-01"]
    assert main([*args, *extra, "--json"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def area_and_control(times_in_area: list[str], codes: list[str] | None = None) -> pd.DataFrame:
    """Incidents in the area at ``times_in_area`` and 20 around a control square 3 km east."""
    n = len(times_in_area)
    control_t = [f"2026-03-{d:02d} 10:00" for d in range(1, 11)]
    control_t += [f"2026-04-{d:02d} 10:00" for d in range(1, 11)]
    corner = np.arange(20) % 4
    return pd.DataFrame(
        {
            "category_code": (codes or ["05-04"] * n) + ["05-04"] * 20,
            "occurred_at": times_in_area + control_t,
            "lon": [X0 + 0.002] * n + list(X0 + 0.03 + 0.01 * (corner % 2)),
            "lat": [Y0 + 0.002] * n + list(Y0 + 0.01 * (corner // 2)),
        }
    )


def test_evaluate_converts_utc_offsets_to_the_district_zone(tmp_path, capsys):
    # 20:00 UTC on 31 March is 04:00 on 1 April in Shanghai: the operation's period
    times = ["2026-03-10 10:00", "2026-03-20T02:00:00+00:00", "2026-03-31T20:00:00Z"]
    area, inc = evaluation_files(tmp_path, area_and_control(times))
    result = evaluate_json(area, inc, capsys)
    assert (result["area_before"], result["area_after"]) == (2, 1)
    assert (result["control_before"], result["control_after"]) == (10, 10)


def test_evaluate_reads_a_time_column_named_time(tmp_path, capsys):
    table = area_and_control(["2026-03-10 10:00", "2026-04-10 10:00", "2026-04-11 10:00"])
    area, inc = evaluation_files(tmp_path, table.rename(columns={"occurred_at": "time"}))
    result = evaluate_json(area, inc, capsys)
    assert (result["area_before"], result["area_after"]) == (1, 2)
    # the same file, the same reader in hotspots
    assert main(["hotspots", "--incidents", str(inc), "--by", "h3:8"]) == 0
    assert f"{len(table):,} incidents from {inc}" in capsys.readouterr().out


def test_evaluate_category_major_class(tmp_path, capsys):
    times = ["2026-03-10 10:00", "2026-04-10 10:00", "2026-04-11 10:00"]
    table = area_and_control(times, codes=["05-05", "05-04", "06-01"])
    area, inc = evaluation_files(tmp_path, table)
    result = evaluate_json(area, inc, capsys, "--category", "05")
    assert (result["area_before"], result["area_after"]) == (1, 1)
    assert result["control_before"] == 10


def test_gaps_reads_incident_times_with_offsets(grid_file, track_file, tmp_path, capsys):
    # 01:30 UTC is 09:30 in Shanghai, in the walk's period; 23:30 UTC the day before is 07:30
    times = ["2026-05-04T01:30:00Z", "2026-05-04 09:45", "2026-05-03T23:30:00+00:00"]
    inc = tmp_path / "inc.csv"
    incident_table(["05-04"] * 3, times).to_csv(inc, index=False)
    args = ["gaps", "--tracks", str(track_file), "--grids", str(grid_file)]
    args += ["--incidents", str(inc), "--start", "2026-05-04 09:00", "--end", "2026-05-04 10:00"]
    assert main([*args, "--out", str(tmp_path / "gaps.csv")]) == 0
    assert "; 2 incidents;" in capsys.readouterr().out


# --------------------------------------------------------------------------------------------
# 5. Grid files: the grids package's field guess (a ``parent`` column is the parent code)


@pytest.fixture
def parent_file(tiny_grids, tmp_path):
    path = tmp_path / "grids.geojson"
    frame = tiny_grids[["code", "name", "level", "parent_code", "geometry"]]
    frame.rename(columns={"parent_code": "parent"}).to_file(path)
    return path


def test_grids_validate_guesses_the_parent_column(parent_file, capsys):
    assert main(["grids", "validate", "--file", str(parent_file)]) == 0
    assert "orphan" not in capsys.readouterr().out


def test_grids_import_guesses_the_parent_column(parent_file, tiny_grids, tmp_path, capsys):
    db = str(tmp_path / "g.db")
    assert main(["init", "--db", db]) == 0  # only init/demo create a database
    assert main(["grids", "import", str(parent_file), "--db", db]) == 0
    assert "14 imported + 0 rejected = 14 total" in capsys.readouterr().out
    got = store.read_grids(store.open_store(db)).set_index("code")["parent_code"]
    want = tiny_grids.set_index("code")["parent_code"]
    assert got.loc[want.index].fillna("").tolist() == want.fillna("").tolist()
    # a field given on the command line still wins over the guess
    assert main(["grids", "validate", "--file", str(parent_file), "--parent-field", "name"]) == 1
    assert "orphan" in capsys.readouterr().out


# --------------------------------------------------------------------------------------------
# --start/--end: one parser, one line on garbage


@pytest.mark.parametrize(
    "argv",
    [
        ["incidents", "export", "--out", "x.csv"],
        ["coverage", "--out", "c.csv"],
        ["hotspots"],
        ["zones", "--out", "z.geojson"],
        ["brief", "--grids", "A", "--out", "b.html"],
    ],
)
def test_bad_start_is_one_line(argv, tmp_path, capsys):
    # refused while the arguments are read: argparse's usage line and one error line, exit 2
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--db", str(tmp_path / "none.db"), "--start", "soon"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "--start" in err[-1] and err[-1].startswith("gridlens")
    assert build_parser().parse_args([*argv, "--end", "2026-05-01"]).end == pd.Timestamp(
        "2026-05-01"
    )
