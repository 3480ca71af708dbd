"""``generate_district``: the whole demo district from one seed."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.core import settings
from gis.core.errors import InputError
from gis.demo import names
from gis.demo.district import (
    CENTER_LONLAT,
    DEMO_END,
    DEMO_START,
    N_L1,
    N_L2,
    N_MICRO,
    PLACE_KINDS,
    DemoDistrict,
)
from gis.demo.grids import build_grids
from gis.demo.incidents import build_calendar, draw_incidents, incident_generators
from gis.demo.places import dedicated_grids, place_points
from gis.demo.staff import build_staff
from gis.demo.streets import StreetSampler, build_streets
from gis.demo.tiling import TO_LONLAT, TO_METRIC, as_multipolygon, district_polygon, to_lonlat
from gis.demo.tracks import choose_neglected, draw_tracks
from gis.demo.truth import planted_truth
from gis.taxonomy import read_taxonomy


def generate_district(seed: int = 42, track_days: int = 14) -> DemoDistrict:
    """Generate the demo district (deterministic in ``seed`` and ``track_days``).

    Parameters
    ----------
    seed
        Seed for ``numpy.random.default_rng``; the only source of randomness.
    track_days
        Number of days, ending on 2026-10-31, with patrol GPS tracks (0..365).

    Returns
    -------
    DemoDistrict
        Frames in EPSG:4326 with naive Asia/Shanghai times:

        - ``grids``: 15 l1, 46 l2, 447 micro and 15 dedicated grids (MultiPolygon), by level
          then code; ``households``/``population``/``businesses`` of l2/l1 are sums of their
          children; dedicated grids carry 0 households/population and 1 business (the unit).
        - ``staff``: 15 leaders, 61 workers (46 l2 + 15 dedicated), 447 assistants, 30 officers.
        - ``streets`` (noded pieces between junctions), ``places`` (19 incident drivers).
        - ``incidents``: about 165,000, sorted by ``occurred_at`` then ``external_id``.
        - ``tracks``/``fixes``: 2 shifts a day per l2 grid worker over the last ``track_days``.

    Raises
    ------
    ValueError
        If ``track_days`` is outside 0..365.
    InputError
        If the taxonomy lacks a category code the demo uses.
    """
    if not 0 <= int(track_days) <= (DEMO_END - DEMO_START).days:
        raise ValueError(f"track_days must be within 0..365, got {track_days}")
    track_days = int(track_days)
    rng = np.random.default_rng(seed)
    taxonomy = read_taxonomy()
    missing = sorted(set(names.DESCRIPTIONS) - set(taxonomy["code"]))
    if missing:
        raise InputError(f"the demo needs taxonomy code(s) {', '.join(missing)}")

    cx, cy = TO_METRIC.transform(*CENTER_LONLAT)
    center = np.array([cx, cy])
    district0 = district_polygon(rng, center)
    grids = build_grids(rng, district0)
    district = grids.district
    streets, alpha = build_streets(rng, district, center)
    placed = place_points(rng, district, streets)
    by_kind: dict[str, list[dict]] = {}
    for p in placed:
        by_kind.setdefault(p["kind"], []).append(p)

    # ---- dedicated grids: a footprint around each unit, clipped to its level-1 grid ----------
    units, ded_geom, ded_parent, ded_code = dedicated_grids(rng, placed, grids, alpha)
    od = np.argsort(np.array(ded_code), kind="stable")

    # ---- operations and their areas ---------------------------------------------------------
    m_xy = by_kind["market"][0]["xy"]
    h_xy = by_kind["hospital"][0]["xy"]
    market_area = shapely.Point(m_xy).buffer(150.0, quad_segs=8)
    hospital_area = shapely.Point(h_xy).buffer(250.0, quad_segs=8)
    ring = shapely.Point(m_xy).buffer(550.0).difference(shapely.Point(m_xy).buffer(250.0))
    ring_lines = shapely.intersection(streets.geoms, ring)
    ring_lines = shapely.get_parts(ring_lines[~shapely.is_empty(ring_lines)])
    ring_lines = ring_lines[shapely.length(ring_lines) > 1.0]
    ops = {"market": {"ring_sampler": StreetSampler(ring_lines)}}

    # ---- incidents ---------------------------------------------------------------------------
    cal = build_calendar()
    gens = incident_generators(cal, by_kind, streets, district, ops)
    inside = shapely.buffer(district, -1.0)
    shapely.prepare(inside)
    inc = draw_incidents(rng, gens, taxonomy, inside, streets)

    # ---- grid attributes and staff ---------------------------------------------------------
    households = rng.integers(300, 501, N_MICRO)
    population = np.round(households * rng.uniform(2.3, 3.0, N_MICRO)).astype(np.int64)
    micro_rep = shapely.points(shapely.get_coordinates(shapely.point_on_surface(grids.micro)))
    commerce = np.zeros(N_MICRO)
    for p in placed:
        if p["kind"] in ("market", "bar_street", "mall", "transport_hub"):
            commerce += 25.0 * np.exp(-shapely.distance(micro_rep, shapely.Point(p["xy"])) / 250.0)
    businesses = rng.poisson(4.0 + commerce)
    hh2 = np.bincount(grids.micro_parent, households, N_L2).astype(np.int64)
    pop2 = np.bincount(grids.micro_parent, population, N_L2).astype(np.int64)
    bus2 = np.bincount(grids.micro_parent, businesses, N_L2).astype(np.int64)
    hh1 = np.bincount(grids.l2_parent, hh2, N_L1).astype(np.int64)
    pop1 = np.bincount(grids.l2_parent, pop2, N_L1).astype(np.int64)
    bus1 = np.bincount(grids.l2_parent, bus2, N_L1).astype(np.int64)
    n_ded = len(units)
    ded_code_s = [ded_code[k] for k in od]
    ded_parent_s = ded_parent[od]
    geoms = np.concatenate([grids.l1, grids.l2, grids.micro, ded_geom[od]])
    geoms = np.array([as_multipolygon(gm) for gm in to_lonlat(geoms)], dtype=object)
    grid_frame = gpd.GeoDataFrame(
        {
            "code": pd.Series(
                grids.l1_code + grids.l2_code + grids.micro_code + ded_code_s, dtype=object
            ),
            "name": pd.Series(
                grids.l1_name
                + grids.l2_name
                + grids.micro_name
                + [units[k]["name"] + "专属网格" for k in od],
                dtype=object,
            ),
            "level": pd.Series(
                ["l1"] * N_L1 + ["l2"] * N_L2 + ["micro"] * N_MICRO + ["dedicated"] * n_ded,
                dtype=object,
            ),
            "parent_code": pd.Series(
                [None] * N_L1
                + [grids.l1_code[p] for p in grids.l2_parent]
                + [grids.l2_code[p] for p in grids.micro_parent]
                + [grids.l1_code[p] for p in ded_parent_s],
                dtype=object,
            ),
            "kind": pd.Series(
                [None] * (N_L1 + N_L2 + N_MICRO) + [units[k]["kind"] for k in od], dtype=object
            ),
            "households": np.concatenate([hh1, hh2, households, np.zeros(n_ded, np.int64)]),
            "population": np.concatenate([pop1, pop2, population, np.zeros(n_ded, np.int64)]),
            "businesses": np.concatenate([bus1, bus2, businesses, np.ones(n_ded, np.int64)]),
        },
        geometry=gpd.GeoSeries(geoms, crs=settings.STORAGE_EPSG),
    )

    staff = build_staff(rng, grids, ded_code_s)
    workers = staff["staff_code"].iloc[N_L1 : N_L1 + N_L2].tolist()

    # ---- patrol tracks -------------------------------------------------------------------------
    key_xy = [by_kind[k][0]["xy"] for k in ("bar_street", "mall", "transport_hub", "hospital")]
    keep_clear = shapely.union_all(
        [shapely.Point(xy).buffer(300.0) for xy in key_xy] + [market_area.buffer(400.0)]
    )
    neglected = choose_neglected(rng, streets, grids, keep_clear)
    tracks, fixes = draw_tracks(rng, streets, grids, workers, neglected, track_days)

    # ---- to EPSG:4326 ------------------------------------------------------------------------
    def lonlat_points(x: np.ndarray, y: np.ndarray) -> gpd.GeoSeries:
        lon, lat = TO_LONLAT.transform(x, y)
        return gpd.GeoSeries(shapely.points(lon, lat), crs=settings.STORAGE_EPSG)

    inc_xy = inc[["_x", "_y"]].to_numpy()
    incidents = gpd.GeoDataFrame(
        inc.drop(columns=["_x", "_y"]), geometry=lonlat_points(inc_xy[:, 0], inc_xy[:, 1])
    )
    fix_xy = fixes[["_x", "_y"]].to_numpy()
    fixes = gpd.GeoDataFrame(
        fixes.drop(columns=["_x", "_y"]), geometry=lonlat_points(fix_xy[:, 0], fix_xy[:, 1])
    )
    street_frame = gpd.GeoDataFrame(
        {
            "street_id": np.arange(1, len(streets.geoms) + 1, dtype=np.int64),
            "name": pd.Series(streets.name, dtype=object),
            "highway": pd.Series(streets.highway, dtype=object),
        },
        geometry=gpd.GeoSeries(to_lonlat(streets.geoms), crs=settings.STORAGE_EPSG),
    )
    drivers = sorted(
        (p for p in placed if p["kind"] in PLACE_KINDS),
        key=lambda p: (PLACE_KINDS.index(p["kind"]), p["name"]),
    )
    pxy = np.array([p["xy"] for p in drivers])
    places = gpd.GeoDataFrame(
        {
            "place_id": np.arange(1, len(drivers) + 1, dtype=np.int64),
            "name": pd.Series([p["name"] for p in drivers], dtype=object),
            "kind": pd.Series([p["kind"] for p in drivers], dtype=object),
        },
        geometry=lonlat_points(pxy[:, 0], pxy[:, 1]),
    )
    boundary = to_lonlat(np.array([district], dtype=object))[0]
    if isinstance(boundary, shapely.MultiPolygon):  # pragma: no cover - star-shaped outline
        boundary = max(boundary.geoms, key=lambda p: p.area)

    truth = planted_truth(
        seed,
        grids,
        by_kind,
        market_area,
        hospital_area,
        neglected,
        track_days,
        len(incidents),
        len(fixes),
    )
    truth["counts"].update(
        {
            "grids": {"l1": N_L1, "l2": N_L2, "micro": N_MICRO, "dedicated": n_ded},
            "staff": len(staff),
            "streets": len(street_frame),
            "places": len(places),
            "tracks": len(tracks),
        }
    )
    return DemoDistrict(
        seed=seed,
        boundary=boundary,
        grids=grid_frame,
        staff=staff,
        streets=street_frame,
        places=places,
        incidents=incidents,
        tracks=tracks,
        fixes=fixes,
        truth=truth,
    )
