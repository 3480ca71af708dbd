"""``load_demo``: the generated demo district into a store, replacing the district's data."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy.engine import Engine

from gis.demo.district import DemoDistrict
from gis.grids import OUTSIDE, assign_points
from gis.store import DEMO_TABLES, clear_tables, read_frame, save_frame, set_meta
from gis.store.cube import fishnet_epsg, rebuild_cube
from gis.units import unit_keys


def load_demo(engine: Engine, demo: DemoDistrict, *, loaded_by: str = "demo") -> dict[str, int]:
    """Replace the district's data with the generated demo district, in one transaction.

    Returns
    -------
    dict[str, int]
        Rows written per table.
    """
    valid_from = datetime(2025, 1, 1)
    grids = demo.grids.copy()
    grids["version"] = 1
    grids["valid_from"] = valid_from
    grids["valid_to"] = pd.NaT
    grids["created_by"] = loaded_by
    incidents = demo.incidents.copy()
    # the keys every page aggregates on, as the intake stores them: grids, H3 cells, fishnet
    assigned = assign_points(incidents.geometry, grids)
    for col, level in (("grid_code", "micro"), ("grid_l2", "l2"), ("grid_l1", "l1")):
        incidents[col] = assigned[level].where(assigned[level] != OUTSIDE).array
    lon, lat = incidents.geometry.x.to_numpy(), incidents.geometry.y.to_numpy()
    tracks = demo.tracks.copy()
    written: dict[str, int] = {}
    with engine.begin() as conn:
        # cases refer to incidents: replacing the incidents replaces the cases too
        clear_tables(conn, ["case_transitions", "cases", *reversed(DEMO_TABLES), "grid_edits"])
        written["grids"] = save_frame(conn, "grids", grids)
        written["staff"] = save_frame(conn, "staff", demo.staff.assign(active=True))
        written["streets"] = save_frame(
            conn, "streets", demo.streets.drop(columns=["street_id"], errors="ignore")
        )
        written["places"] = save_frame(
            conn, "places", demo.places.drop(columns=["place_id"], errors="ignore")
        )
        for col, keys in unit_keys(lon, lat, fishnet_epsg(conn)).items():
            incidents[col] = keys
        written["incidents"] = save_frame(conn, "incidents", incidents)
        rebuild_cube(conn)
        written["patrol_tracks"] = save_frame(conn, "patrol_tracks", tracks)
        ids = read_frame(conn, "patrol_tracks", columns=["id", "track_code"])
        track_id = dict(zip(ids["track_code"], ids["id"], strict=True))
        fixes = demo.fixes.copy()
        fixes["track_id"] = fixes["track_code"].map(track_id).astype("int64")
        written["patrol_fixes"] = save_frame(
            conn, "patrol_fixes", fixes[["track_id", "staff_code", "t", "geometry"]]
        )
        set_meta(conn, "district", {"name_zh": "北城街道（演示）", "name_en": "Beicheng (demo)"})
        set_meta(conn, "demo_seed", demo.seed)
        set_meta(conn, "demo_truth", demo.truth)
        set_meta(conn, "demo_fingerprint", demo.fingerprint())
    return written
