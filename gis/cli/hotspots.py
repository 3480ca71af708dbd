"""``gridlens hotspots | kde | emerging``: hotspot analytics (``gis.hotspots``).

Incidents and grids come from the database, or from files (``--incidents``, ``--grids``) for
batch work without one. From the database, ``hotspots`` and ``emerging`` count on the store's
incident cube (``gis.views.aggregates``, as the app does: never every incident) whenever it can
answer: whole-day periods, H3 resolutions up to 11, fishnet cells of multiples of 50 m in the
stored lattice, grid levels l1/l2/micro; otherwise they read the incidents.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import geopandas as gpd
import numpy as np

from gis import hotspots as hs
from gis import store
from gis.cli._common import (
    build_units,
    category_options,
    engine_from_args,
    filter_incidents,
    output_options,
    period_options,
    read_grid_file,
    read_store_incidents,
    units_options,
)
from gis.core.errors import InputError
from gis.incidents import read_incident_file
from gis.io import write_table
from gis.store.cube import Cube, CubeFilter, load_cube
from gis.views import aggregates

GI_COLUMNS = ["unit_id", "count", "density_km2", "gi_z", "gi_p", "gi_bin", "n_neighbors"]
LISA_COLUMNS = ["unit_id", "count", "density_km2", "lisa_i", "lisa_q", "lisa_p", "lisa_cluster"]


def _lonlat_columns(args) -> dict[str, str]:
    """``--lon``/``--lat``: the file's coordinate columns, when detection is not enough."""
    return {k: v for k, v in (("lon", args.lon), ("lat", args.lat)) if v}


def _load_inputs(args) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame | None, str]:
    """(incidents filtered by the options, grids or None, a line saying where they came from)."""
    engine = None
    if args.incidents:
        inc = filter_incidents(
            read_incident_file(args.incidents, mapping=_lonlat_columns(args)),
            start=args.start,
            end=args.end,
            categories=args.category,
        )
        source = f"{args.incidents}"
        dropped = inc.attrs.get("n_dropped", 0)
        if dropped:
            source += f" ({dropped:,} rows without coordinates skipped)"
    else:
        engine = engine_from_args(args)
        inc = read_store_incidents(engine, start=args.start, end=args.end, categories=args.category)
        source = "database"
    if args.grids:
        by = getattr(args, "by", None)
        grids = read_grid_file(args.grids, level=by.level if by and by.kind == "grid" else "micro")
    elif engine is not None:
        grids = store.read_grids(engine)
        grids = grids if len(grids) else None
    else:
        grids = None
    if engine is not None:
        engine.dispose()
    if len(inc) == 0:
        raise InputError("no incidents match the filters")
    return inc, grids, source


def _from_cube(args) -> tuple[Cube, CubeFilter, gpd.GeoDataFrame, gpd.GeoDataFrame] | None:
    """``(cube, filter, grids, units)`` when the store's incident cube answers the command;
    None when the incidents must be read (files given, or a choice the cube does not hold)."""
    by = args.by
    if args.incidents or args.grids:
        return None
    if (by.kind == "grid" and by.level == "dedicated") or (
        by.kind == "h3" and by.h3_resolution > 11
    ):
        return None
    if by.kind == "fishnet" and by.cell_m % 50:
        return None
    for t in (args.start, args.end):
        if t is not None and t != t.normalize():
            return None
    engine = engine_from_args(args)
    try:
        grids = store.read_grids(engine)
        if not len(grids):
            return None
        epsg = store.get_meta(engine, "fishnet_epsg")
        units = build_units(by, grids)
        if by.kind == "fishnet" and units.attrs.get("metric_epsg") != (
            int(epsg) if epsg is not None else None
        ):
            return None
        family = load_cube(engine, aggregates.cube_kind(by))
    finally:
        engine.dispose()
    flt = aggregates.cube_filter(args.start, args.end, args.category or (), grids=grids)
    if not family.n[family.select(flt)].sum():
        raise InputError("no incidents match the filters")
    units.attrs["fishnet_epsg"] = int(epsg) if epsg is not None else None
    return family, flt, grids, units


def _counted(args) -> tuple[gpd.GeoDataFrame, int, str]:
    """(counts per unit, incidents counted, where they came from)."""
    cubed = _from_cube(args)
    if cubed is not None:
        family, flt, grids, units = cubed
        epsg = units.attrs.pop("fishnet_epsg")
        counted = aggregates.unit_counts(family, flt, units, args.by, grids, fishnet_epsg=epsg)
        return counted, int(counted.attrs["n_points"]), "database"
    inc, grids, source = _load_inputs(args)
    units = build_units(args.by, grids, inc)
    return hs.count_by_unit(inc, units), len(inc), source


def cmd_hotspots(args) -> int:
    counted, n_incidents, source = _counted(args)
    units = counted
    res = hs.hotspots(
        counted,
        method=args.method,
        weights=args.weights,
        band_m=args.band_m,
        k=args.ring,
        permutations=args.permutations,
        seed=args.seed,
    )
    lead = GI_COLUMNS if args.method == "gi_star" else LISA_COLUMNS + ["n_neighbors"]
    rest = [c for c in res.columns if c not in lead and c != "geometry"]
    out = res[lead + rest + ["geometry"]]
    print(f"{n_incidents:,} incidents from {source}; {len(units):,} units ({args.by})")
    if counted.attrs.get("n_outside"):
        print(f"  {counted.attrs['n_outside']:,} incidents fall in no unit")
    if args.weights == "band":
        rule = res.attrs.get("band_rule", "given")
        print(f"distance band: {res.attrs['band_m']:.0f} m ({rule})")
    if args.method == "gi_star":
        counts = res["gi_bin"].value_counts()
        labels = {3: "hot 99%", 2: "hot 95%", 1: "hot 90%", 0: "not significant"}
        labels.update({-1: "cold 90%", -2: "cold 95%", -3: "cold 99%"})
        for b in (3, 2, 1, 0, -1, -2, -3):
            print(f"  {labels[b]:<16} {int(counts.get(b, 0)):>7,}")
    else:
        perms = args.permutations
        if perms is None:
            perms = hs.default_permutations(len(res), int(res["n_neighbors"].max()))
        print(f"  {perms:,} permutations, seed {args.seed}; clusters at FDR 5 %:")
        for lab, n in res["lisa_cluster"].value_counts().items():
            print(f"  {lab:<4} {n:>7,}")
    if args.out:
        print(f"wrote {len(out):,} units to {write_table(out, args.out)}")
    return 0


def _binned_from_cube(args):
    """``(lonlat, weights, grids)``: the store's incidents in the filters binned on the cube's
    50-m fishnet (``aggregates.binned_points``, as the Hotspots page's heat); None when files
    are given, a time is not a whole day, or the store has no grids or fishnet keys."""
    if args.incidents or args.grids:
        return None
    if any(t is not None and t != t.normalize() for t in (args.start, args.end)):
        return None
    engine = engine_from_args(args)
    try:
        grids = store.read_grids(engine)
        epsg = store.get_meta(engine, "fishnet_epsg")
        if not len(grids) or epsg is None:
            return None
        family = load_cube(engine, "fishnet")
    finally:
        engine.dispose()
    flt = aggregates.cube_filter(args.start, args.end, args.category or (), grids=grids)
    pts, weights = aggregates.binned_points(family, flt, int(epsg))
    if not len(pts):
        raise InputError("no incidents match the filters")
    return pts, weights, grids


def cmd_kde(args) -> int:
    binned = _binned_from_cube(args)
    if binned is not None:  # counts per 50-m cell, never every incident
        inc, weights, grids = binned
        n, source = int(weights.sum()), "database (incident cube, 50-m fishnet bins)"
    else:
        inc, grids, source = _load_inputs(args)
        n, weights = len(inc), None
    extent = hs.study_area(grids) if grids is not None else None
    res = hs.kde(
        inc,
        kernel=args.kernel,
        bandwidth_m=args.bandwidth_m,
        cell_m=args.cell_m,
        extent=extent,
        weights=weights,
    )
    frame = res.to_frame(min_density_km2=args.min_density)
    frame["epsg"] = res.epsg
    print(f"{n:,} incidents from {source}")
    print(
        f"{args.kernel} kernel, bandwidth {res.bandwidth_m:.1f} m ({res.bandwidth_rule}), "
        f"cell {res.cell_m:.1f} m, {len(res.x_m)} x {len(res.y_m)} cells in EPSG:{res.epsg}"
    )
    print(
        f"max density {res.density_km2.max():,.1f} per km²; raster holds {res.mass:,.1f} "
        f"of {res.total_weight:,.0f} incidents"
    )
    if args.out:
        path = Path(args.out)
        if path.suffix.lower() in {".csv", ".xlsx"}:
            written = write_table(frame, args.out)
        else:
            geo = gpd.GeoDataFrame(
                frame, geometry=gpd.points_from_xy(frame["lon"], frame["lat"]), crs=4326
            )
            written = write_table(geo, args.out)
        print(f"wrote {len(frame):,} cell centres to {written}")
        if args.contours:
            bands = res.contours(args.contours)
            bands["level_upper"] = bands["level_upper"].replace(np.inf, np.nan)  # JSON
            suffix = path.suffix if path.suffix.lower() in {".gpkg", ".geojson"} else ".geojson"
            cpath = path.with_name(path.stem + "_contours" + suffix)
            print(f"wrote {len(bands)} contour bands to {write_table(bands, str(cpath))}")
    return 0


def cmd_emerging(args) -> int:
    cubed = _from_cube(args)
    if cubed is not None:
        family, flt, grids, units = cubed
        epsg = units.attrs.pop("fishnet_epsg")
        days = family.day[family.select(flt)]
        first = (np.datetime64("1970-01-01") + np.timedelta64(int(days.min()), "D")).astype(str)
        last = np.datetime64("1970-01-01") + np.timedelta64(int(days.max()) + 1, "D")
        cube = aggregates.space_time_counts(
            family, flt, units, args.by, step=args.step,
            start=args.start if args.start is not None else first,
            end=args.end if args.end is not None else str(last),
            grids=grids, fishnet_epsg=epsg,
        )  # fmt: skip
        n_incidents, source = cube.n_points, "database"
    else:
        inc, grids, source = _load_inputs(args)
        if "occurred_at" not in inc.columns:
            raise InputError("emerging hot spots need incident times (no time column found)")
        units = build_units(args.by, grids, inc)
        cube = hs.space_time_cube(
            inc, inc["occurred_at"], units, step=args.step, start=args.start, end=args.end
        )
        n_incidents = len(inc)
    W, choice = hs.unit_weights(
        units, args.weights, band_m=args.band_m, k=args.ring, y=cube.counts.sum(axis=1)
    )
    res = hs.emerging_hotspots(
        cube,
        W,
        time_lag=args.time_lag,
        fdr=not args.no_fdr,
        global_window=args.global_window,
    )
    print(f"{n_incidents:,} incidents from {source}; {len(units):,} units ({args.by})")
    print(
        f"{cube.n_steps} {args.step} steps {cube.edges[0]:%Y-%m-%d} .. {cube.edges[-1]:%Y-%m-%d}"
        f" (classified: {res.attrs['n_steps_classified']}), time lag {args.time_lag}, "
        f"{args.global_window} window, FDR {'off' if args.no_fdr else 'on'}"
    )
    if choice is not None:
        print(f"distance band: {choice.band_m:.0f} m ({choice.rule})")
    for pattern, n in res["pattern"].value_counts().reindex(hs.PATTERNS).dropna().items():
        print(f"  {pattern:<24} {int(n):>7,}")
    if args.out:
        print(f"wrote {len(res):,} units to {write_table(res, args.out)}")
    return 0


def add_commands(sub, common: argparse.ArgumentParser) -> None:
    """Add ``hotspots``, ``kde`` and ``emerging`` to the ``gridlens`` subparsers."""
    src = argparse.ArgumentParser(add_help=False)
    src.add_argument("--incidents", metavar="FILE", help="CSV/Excel with lon/lat or a vector file")
    src.add_argument("--grids", metavar="FILE", help="grid polygons file instead of the database")
    src.add_argument("--lon", help="longitude column of --incidents (default: detected)")
    src.add_argument("--lat", help="latitude column of --incidents (default: detected)")
    filters = [category_options(), period_options()]
    out = output_options("output .csv, .geojson or .gpkg", required=False)
    units = argparse.ArgumentParser(add_help=False)
    units.add_argument("--weights", choices=["queen", "ring", "band"], default="queen")
    units.add_argument("--ring", type=int, default=1, help="H3 ring k for --weights ring")
    units.add_argument(
        "--band-m", type=float, help="distance band in metres (default: automatic, --weights band)"
    )
    by = units_options("h3:9", "units: h3:RES (default h3:9), fishnet:METRES or grid:LEVEL")

    p = sub.add_parser(
        "hotspots",
        parents=[common, src, *filters, out, by, units],
        help="Gi* hot spots (FDR bins) or local Moran clusters per unit",
    )
    p.add_argument("--method", choices=["gi_star", "local_moran"], default="gi_star")
    p.add_argument("--permutations", type=int, help="local Moran permutations (default: auto)")
    p.add_argument("--seed", type=int, default=0, help="local Moran random seed")
    p.set_defaults(func=cmd_hotspots)

    p = sub.add_parser(
        "kde", parents=[common, src, *filters, out], help="kernel density heat map (cell centres)"
    )
    p.add_argument("--kernel", choices=["gaussian", "quartic"], default="gaussian")
    p.add_argument("--bandwidth-m", type=float, help="metres (default: robust Silverman rule)")
    p.add_argument("--cell-m", type=float, help="cell side in metres (default: extent / 250)")
    p.add_argument("--contours", type=int, help="also write N contour bands (*_contours file)")
    p.add_argument("--min-density", type=float, default=0.0, help="leave out cells below (per km²)")
    p.set_defaults(func=cmd_kde)

    p = sub.add_parser(
        "emerging",
        parents=[common, src, *filters, out, by, units],
        help="emerging hot spots (ArcGIS's 17 patterns) over day/week/month steps",
    )
    p.add_argument("--step", choices=["day", "week", "month"], default="week")
    p.add_argument("--time-lag", type=int, default=1, help="previous steps in the neighbourhood")
    p.add_argument("--global-window", choices=["cube", "neighborhood"], default="cube")
    p.add_argument("--no-fdr", action="store_true", help="bins without the FDR correction")
    p.set_defaults(func=cmd_emerging)
