"""``gridlens coverage | gaps``: patrol presence per unit and the gaps between risk and
presence (``gis.patrol``), from the database or from files."""

from __future__ import annotations

import argparse

import numpy as np

from gis import hotspots, patrol, store
from gis.cli._common import (
    category_options,
    engine_from_args,
    filter_incidents,
    is_map_file,
    output_options,
    period_options,
    read_grid_file,
    read_store_incidents,
    units_options,
)
from gis.cli.scale import cmd_coverage_folder, engine_options, wants_scale
from gis.core.errors import GridLensError, InputError
from gis.core.geometry import district_outline
from gis.incidents import read_incident_file
from gis.io import read_geo_file, write_table
from gis.units import UnitSpec


class _PatrolInputs:
    """Tracks, grids, streets, incidents and staff from files (--tracks, --grids, --streets,
    --incidents) or else the database, opened only when something is read from it."""

    def __init__(self, args) -> None:
        self.args = args
        self._engine = None

    def engine(self):
        if self._engine is None:
            self._engine = engine_from_args(self.args)
        return self._engine

    def period(self):
        return self.args.start, self.args.end

    def grids(self):
        if self.args.grids:
            return read_grid_file(self.args.grids)
        grids = store.read_grids(self.engine())
        if grids.empty:
            raise GridLensError("the database has no grids: load them, or give --grids FILE")
        return grids

    def streets(self):
        if self.args.streets:
            frame, _ = read_geo_file(self.args.streets)
            return frame[frame.geometry.notna()]
        if self.args.tracks and self._engine is None:
            return None  # files only: no streets unless --streets
        return store.read_frame(self.engine(), "streets")

    def tracks(self, grids):
        start, end = self.period()
        if self.args.tracks:
            fixes = patrol.read_tracks(self.args.tracks, crs=self.args.crs, tz=self.args.tz)
            t = fixes["t"]
            keep = t.notna()
            if start is not None:
                keep &= t >= start
            if end is not None:
                keep &= t < end
            fixes = fixes[keep]
        else:
            fixes = store.read_fixes(self.engine(), start, end)
        if fixes.empty:
            raise GridLensError("no patrol fixes in the period")
        district = district_outline(grids) if grids is not None else None
        data = patrol.track_data(fixes, district=district)
        if data.clean.fixes.empty:
            raise GridLensError(f"no usable fixes: {data.clean.summary_line()}")
        default = patrol.default_period(data.clean.fixes)
        return data, (start or default[0], end or default[1])

    def incidents(self, start, end, categories):
        if self.args.incidents:
            frame = read_incident_file(self.args.incidents)
            if "occurred_at" not in frame:  # a file without times: all of it is the period's
                start = end = None
            return filter_incidents(frame, start=start, end=end, categories=categories)
        return read_store_incidents(self.engine(), start=start, end=end, categories=categories)

    def staff(self, codes):
        if self.args.grids or self.args.tracks:
            return None
        staff = store.read_table(self.engine(), "staff")
        return staff[staff["staff_code"].isin(set(codes))]


def _unit_geometry(by: UnitSpec, ids, grids, streets):
    """Geometry (EPSG:4326) per unit id for map output files."""
    ids = [str(i) for i in ids]
    if by.kind == "streets":
        layer = patrol.street_units(streets).set_index("unit_id").geometry
    elif by.kind == "h3":
        return list(hotspots.h3_polygons(ids)) if ids else []
    else:
        micro = grids[grids["level"] == "micro"]
        layer = micro.set_index(micro["code"].astype(str)).geometry
    return list(layer.reindex(np.array(ids, dtype=object)).to_numpy())


def _micro_grids_only(by: UnitSpec) -> UnitSpec:
    """Patrol presence is counted in micro-grids: ``grid:l1`` and the like are refused."""
    if by.kind == "grid" and by.level != "micro":
        raise InputError(f"--by {by}: patrol presence is counted per micro-grid; use grid:micro")
    return by


def cmd_coverage(args) -> int:
    if wants_scale(args):  # a folder of Parquet fixes, or --engine dask: city scale
        return cmd_coverage_folder(args)
    by = _micro_grids_only(args.by)
    inputs = _PatrolInputs(args)
    needs_grids = by.kind == "grid" or args.grids or not args.tracks
    grids = inputs.grids() if needs_grids else None
    streets = inputs.streets()
    data, (start, end) = inputs.tracks(grids)
    all_units = None
    if by.kind == "grid":
        units = grids
    elif by.kind == "streets":
        if streets is None or streets.empty:
            raise GridLensError("coverage by streets needs street lines: give --streets FILE")
        units = "streets"
    else:
        units = by
        if grids is not None:
            area = district_outline(grids)
            all_units = hotspots.h3_units(area, by.h3_resolution)["unit_id"].to_numpy()
    table = patrol.coverage_table(
        data.samples,
        units,
        streets=streets if streets is not None and len(streets) else None,
        segs=data.segs,
        all_units=all_units,
        start=start,
        end=end,
        shift=args.shift,
    )
    out = table[list(patrol.COVERAGE_COLUMNS)]
    geometry = None
    if is_map_file(args.out):
        geometry = _unit_geometry(by, out["unit_id"], grids, streets)
    path = write_table(out, args.out, geometry=geometry)
    p0, p1 = table.attrs["period"]
    visited = int((out["visits"] > 0).sum())
    share = table["covered_m"].sum() / table["street_m"].sum() if table["street_m"].sum() else None
    print(data.clean.summary_line())
    shift = f", shift {args.shift}" if args.shift else ""
    print(f"period {p0:%Y-%m-%d %H:%M} to {p1:%Y-%m-%d %H:%M}{shift}")
    line = f"{visited:,} of {len(out):,} units ({by}) visited"
    if share is not None:
        line += f"; street length covered within {patrol.GPS_ACCURACY_M:g} m: {share:.1%}"
    print(line)
    print(f"wrote {len(out):,} rows to {path}")
    return 0


def cmd_gaps(args) -> int:
    by = _micro_grids_only(args.by)
    inputs = _PatrolInputs(args)
    grids = inputs.grids()
    data, (start, end) = inputs.tracks(grids)
    incidents = inputs.incidents(start, end, args.category)
    staff = inputs.staff(set(data.clean.fixes["staff_code"]))
    view = patrol.patrol_view(
        data.samples,
        grids,
        incidents,
        units=by,
        segs=data.segs,
        staff=staff,
        start=start,
        end=end,
        shift=args.shift,
    )
    ranked = view.gaps.ranked
    if args.top:
        ranked = ranked.head(args.top)
    geometry = None
    if is_map_file(args.out):
        geometry = _unit_geometry(by, ranked["unit_id"], grids, None)
    path = write_table(ranked, args.out, geometry=geometry)
    p0, p1 = view.period
    print(data.clean.summary_line())
    print(
        f"period {p0:%Y-%m-%d %H:%M} to {p1:%Y-%m-%d %H:%M}; {len(incidents):,} incidents; "
        f"{len(view.gaps.ranked):,} units ({by}) ranked"
    )
    if by.kind == "grid":
        print(f"{len(view.gaps.unvisited):,} micro-grids with no visit in the period")
    reason = f"reason_{args.lang}"
    for row in ranked.head(5).itertuples(index=False):
        print(f"  {row.rank:>4}  {row.unit_id}  {getattr(row, reason)}")
    print(f"wrote {len(ranked):,} ranked gaps to {path}")
    if args.staff_out and view.staff is not None:
        out = write_table(view.gaps.staff_unpatrolled, args.staff_out)
        n = len(view.gaps.staff_unpatrolled)
        print(f"wrote {n:,} staff-grid pairs not patrolled to {out}")
    return 0


def add_commands(sub, common: argparse.ArgumentParser) -> None:
    """Add ``coverage`` and ``gaps`` to the ``gridlens`` subparsers."""
    pin = argparse.ArgumentParser(add_help=False)
    pin.add_argument("--tracks", help="GPS track file instead of the database's fixes")
    pin.add_argument("--grids", help="grid file instead of the database's grids")
    pin.add_argument("--streets", help="street lines file instead of the database's streets")
    pin.add_argument("--crs", default="wgs84", help="coordinates of --tracks (default wgs84)")
    pin.add_argument("--tz", help="zone of --tracks times without offset")
    pin.add_argument("--shift", help="only this daily shift, e.g. 09:00-17:00, day or night")
    period = period_options(
        "period start (YYYY-MM-DD[ HH:MM]); default: the tracks'",
        "period end, exclusive; default: the tracks'",
    )
    out = output_options(".csv .xlsx .parquet, or .geojson/.gpkg")

    p = sub.add_parser(
        "coverage",
        parents=[
            common,
            engine_options(scratch=True),
            pin,
            period,
            units_options(
                "grid:micro",
                "grid:micro (default), h3:RES (e.g. h3:11) or streets; covered_share is the "
                "share of the unit's street length passed within 20 m (NaN without streets)",
                allowed=("grid", "h3", "streets"),
            ),
            out,
        ],
        help="patrol presence per unit: unit_id, visits, dwell_s, last_visit, max_gap_s, "
        "covered_share",
    )
    p.set_defaults(func=cmd_coverage)

    p = sub.add_parser(
        "gaps",
        parents=[
            common,
            pin,
            period,
            units_options("grid:micro", "grid:micro (default) or h3:RES", allowed=("grid", "h3")),
            category_options(),
            out,
        ],
        help="units where incident risk is high and patrol presence low, ranked with reasons",
    )
    p.add_argument("--incidents", help="incident file (lon/lat or geometry, occurred_at)")
    p.add_argument("--top", type=int, help="write only the first N")
    p.add_argument("--lang", choices=["en", "zh"], default="en", help="language of the printout")
    p.add_argument("--staff-out", help="CSV of each staff member's unpatrolled micro-grids")
    p.set_defaults(func=cmd_gaps)
