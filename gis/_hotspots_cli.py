"""``gridlens hotspots | kde | emerging``: hotspot analytics (``gis.hotspots``) from the command line.

Incidents and grids come from the database, or from files (``--incidents``, ``--grids``) for
batch work without one. Registered by ``gis.cli.build_parser`` through ``add_commands``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.core.errors import InputError

GI_COLUMNS = ["unit_id", "count", "density_km2", "gi_z", "gi_p", "gi_bin", "n_neighbors"]
LISA_COLUMNS = ["unit_id", "count", "density_km2", "lisa_i", "lisa_q", "lisa_p", "lisa_cluster"]


def _ts(value: str | None) -> pd.Timestamp | None:
    if not value:
        return None
    try:
        return pd.Timestamp(value)
    except ValueError as exc:
        raise InputError(f"not a date/time: {value!r}") from exc


def _filter(frame: gpd.GeoDataFrame, args) -> gpd.GeoDataFrame:
    """Period ``[--start, --end)`` and ``--category`` codes (or major-class prefixes)."""
    start, end = _ts(args.start), _ts(args.end)
    if (start is not None or end is not None) and "occurred_at" not in frame.columns:
        raise InputError("--start/--end need incident times; the file has no time column")
    keep = np.ones(len(frame), dtype=bool)
    if start is not None:
        keep &= (frame["occurred_at"] >= start).to_numpy()
    if end is not None:
        keep &= (frame["occurred_at"] < end).to_numpy()
    if args.category:
        if "category_code" not in frame.columns:
            raise InputError("--category needs a category column in the incidents")
        codes = frame["category_code"].astype(str)
        hit = np.zeros(len(frame), dtype=bool)
        for c in args.category:
            hit |= (codes == c).to_numpy() if "-" in c else codes.str.startswith(c).to_numpy()
        keep &= hit
    return frame[keep]


def read_incident_file(
    path: str, *, lon: str | None = None, lat: str | None = None
) -> gpd.GeoDataFrame:
    """Incident points from a CSV/Excel with lon/lat (or WKT) or any vector file (EPSG:4326).

    The time and category columns are found by ``gis.io.columns.detect_columns`` (``occurred_at``,
    ``发生时间``, ``Created Date`` ...; ``category_code``, ``事件类型`` ...) and renamed to
    ``occurred_at`` (parsed to wall-clock times) and ``category_code``. Rows without a point
    are dropped (their number is in ``attrs["n_dropped"]``).
    """
    from gis.core.times import parse_times
    from gis.io import read_geo_file
    from gis.io.columns import detect_columns

    frame, reason = read_geo_file(path, lon=lon, lat=lat)
    cols = [c for c in frame.columns if c != frame.geometry.name]
    sample = pd.DataFrame(frame[cols].head(200)).astype("string")
    mapping = detect_columns(cols, sample)
    out = gpd.GeoDataFrame(geometry=frame.geometry, crs=frame.crs)
    if "occurred_at" in mapping:
        out["occurred_at"] = parse_times(frame[mapping["occurred_at"]]).to_numpy()
    if "category_code" in mapping:
        out["category_code"] = frame[mapping["category_code"]].astype("string").to_numpy()
    geoms = out.geometry.to_numpy()
    ok = (reason == "").to_numpy() & ~(
        pd.isna(geoms) | np.array([g is None or g.is_empty for g in geoms])
    )
    out = out[ok]
    out.attrs["n_dropped"] = int((~ok).sum())
    return out


def _engine(args):
    from gis import store

    return store.open_store(args.db)


def load_inputs(args) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame | None, str]:
    """(incidents filtered by the options, grids or None, a line saying where they came from)."""
    from gis import store
    from gis.io import read_geo_file

    engine = None
    if args.incidents:
        inc = _filter(read_incident_file(args.incidents, lon=args.lon, lat=args.lat), args)
        source = f"{args.incidents}"
        dropped = inc.attrs.get("n_dropped", 0)
        if dropped:
            source += f" ({dropped:,} rows without coordinates skipped)"
    else:
        engine = _engine(args)
        s, e = _ts(args.start), _ts(args.end)
        inc = store.read_incidents(
            engine,
            start=s.to_pydatetime() if s is not None else None,
            end=e.to_pydatetime() if e is not None else None,
        )
        inc = _filter(inc, argparse.Namespace(start=None, end=None, category=args.category))
        source = "database"
    if args.grids:
        grids, _ = read_geo_file(args.grids)
        grids = grids[grids.geometry.notna()]
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


def build_units(by: str, grids: gpd.GeoDataFrame | None, points) -> gpd.GeoDataFrame:
    """Units from ``--by``: ``h3:RES``, ``fishnet:METRES`` or ``grid:LEVEL`` (micro/l2/l1)."""
    from gis import hotspots as hs

    kind, _, arg = by.partition(":")
    if kind in {"h3", "fishnet"}:
        area = hs.study_area(grids, points)
        try:
            value = float(arg)
        except ValueError:
            raise InputError(f"--by {by}: expected {kind}:NUMBER") from None
        if kind == "h3":
            return hs.h3_units(area, int(value))
        return hs.fishnet_units(area, value)
    if kind == "grid":
        if grids is None:
            raise InputError("--by grid:LEVEL needs grids (the database or --grids FILE)")
        level = arg or "micro"
        if "level" not in grids.columns:  # a plain polygon file: its polygons are the units
            grids = grids.assign(level=level)
        if "code" not in grids.columns:
            for alt in ("unit_id", "grid_code", "id"):
                if alt in grids.columns:
                    grids = grids.assign(code=grids[alt].astype(str))
                    break
        return hs.grid_units(grids, level)
    raise InputError(f"--by must be h3:RES, fishnet:METRES or grid:LEVEL, got {by!r}")


def _write(frame: gpd.GeoDataFrame | pd.DataFrame, out: str) -> Path:
    from gis.io import write_geo_file

    if not isinstance(frame, gpd.GeoDataFrame):
        path = Path(out)
        if path.suffix.lower() != ".csv":
            raise InputError(f"{out}: this table has no geometry; write it as .csv")
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(path, index=False, encoding="utf-8-sig")
        return path
    return write_geo_file(frame, out)


def cmd_hotspots(args) -> int:
    from gis import hotspots as hs

    inc, grids, source = load_inputs(args)
    units = build_units(args.by, grids, inc)
    counted = hs.count_by_unit(inc, units)
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
    print(f"{len(inc):,} incidents from {source}; {len(units):,} units ({args.by})")
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
        print(f"wrote {len(out):,} units to {_write(out, args.out)}")
    return 0


def cmd_kde(args) -> int:
    from gis import hotspots as hs

    inc, grids, source = load_inputs(args)
    extent = hs.study_area(grids) if grids is not None else None
    res = hs.kde(
        inc,
        kernel=args.kernel,
        bandwidth_m=args.bandwidth_m,
        cell_m=args.cell_m,
        extent=extent,
    )
    frame = res.to_frame(min_density_km2=args.min_density)
    frame["epsg"] = res.epsg
    print(f"{len(inc):,} incidents from {source}")
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
            written = _write(frame, args.out)
        else:
            geo = gpd.GeoDataFrame(
                frame, geometry=gpd.points_from_xy(frame["lon"], frame["lat"]), crs=4326
            )
            written = _write(geo, args.out)
        print(f"wrote {len(frame):,} cell centres to {written}")
        if args.contours:
            bands = res.contours(args.contours)
            bands["level_upper"] = bands["level_upper"].replace(np.inf, np.nan)  # JSON
            suffix = path.suffix if path.suffix.lower() in {".gpkg", ".geojson"} else ".geojson"
            cpath = path.with_name(path.stem + "_contours" + suffix)
            print(f"wrote {len(bands)} contour bands to {_write(bands, str(cpath))}")
    return 0


def cmd_emerging(args) -> int:
    from gis import hotspots as hs

    inc, grids, source = load_inputs(args)
    if "occurred_at" not in inc.columns:
        raise InputError("emerging hot spots need incident times (no time column found)")
    units = build_units(args.by, grids, inc)
    cube = hs.space_time_cube(
        inc, inc["occurred_at"], units, step=args.step, start=_ts(args.start), end=_ts(args.end)
    )
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
    print(f"{len(inc):,} incidents from {source}; {len(units):,} units ({args.by})")
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
        print(f"wrote {len(res):,} units to {_write(res, args.out)}")
    return 0


def add_commands(sub, common: argparse.ArgumentParser) -> None:
    """Add ``hotspots``, ``kde`` and ``emerging`` to the ``gridlens`` subparsers."""
    src = argparse.ArgumentParser(add_help=False)
    src.add_argument("--incidents", metavar="FILE", help="CSV/Excel with lon/lat or a vector file")
    src.add_argument("--grids", metavar="FILE", help="grid polygons file instead of the database")
    src.add_argument("--lon", help="longitude column of --incidents (default: detected)")
    src.add_argument("--lat", help="latitude column of --incidents (default: detected)")
    src.add_argument("--category", action="append", help="code (05-04) or class (05); repeatable")
    src.add_argument("--start", help="occurred on or after (YYYY-MM-DD)")
    src.add_argument("--end", help="occurred before (YYYY-MM-DD)")
    src.add_argument("--out", help="output .csv, .geojson or .gpkg")
    units = argparse.ArgumentParser(add_help=False)
    units.add_argument(
        "--by", default="h3:9", help="units: h3:RES, fishnet:METRES or grid:micro|l2|l1"
    )
    units.add_argument("--weights", choices=["queen", "ring", "band"], default="queen")
    units.add_argument("--ring", type=int, default=1, help="H3 ring k for --weights ring")
    units.add_argument(
        "--band-m", type=float, help="distance band in metres (default: automatic, --weights band)"
    )

    p = sub.add_parser(
        "hotspots",
        parents=[common, src, units],
        help="Gi* hot spots (FDR bins) or local Moran clusters per unit",
    )
    p.add_argument("--method", choices=["gi_star", "local_moran"], default="gi_star")
    p.add_argument("--permutations", type=int, help="local Moran permutations (default: auto)")
    p.add_argument("--seed", type=int, default=0, help="local Moran random seed")
    p.set_defaults(func=cmd_hotspots)

    p = sub.add_parser("kde", parents=[common, src], help="kernel density heat map (cell centres)")
    p.add_argument("--kernel", choices=["gaussian", "quartic"], default="gaussian")
    p.add_argument("--bandwidth-m", type=float, help="metres (default: robust Silverman rule)")
    p.add_argument("--cell-m", type=float, help="cell side in metres (default: extent / 250)")
    p.add_argument("--contours", type=int, help="also write N contour bands (*_contours file)")
    p.add_argument("--min-density", type=float, default=0.0, help="leave out cells below (per km²)")
    p.set_defaults(func=cmd_kde)

    p = sub.add_parser(
        "emerging",
        parents=[common, src, units],
        help="emerging hot spots (ArcGIS's 17 patterns) over day/week/month steps",
    )
    p.add_argument("--step", choices=["day", "week", "month"], default="week")
    p.add_argument("--time-lag", type=int, default=1, help="previous steps in the neighbourhood")
    p.add_argument("--global-window", choices=["cube", "neighborhood"], default="cube")
    p.add_argument("--no-fdr", action="store_true", help="bins without the FDR correction")
    p.set_defaults(func=cmd_emerging)
