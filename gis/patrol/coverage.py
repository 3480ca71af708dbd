"""Coverage per unit: presence and street coverage in one table (``gridlens coverage``)."""

from __future__ import annotations

from collections.abc import Iterable

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.core.errors import InputError
from gis.patrol.clean import GPS_ACCURACY_M
from gis.patrol.clock import NS, format_window, in_shift, longest_shift_s, shift_window
from gis.patrol.presence import presence
from gis.patrol.sampling import segments
from gis.patrol.streets import (
    assign_streets,
    ids_as_text,
    street_coverage,
    street_coverage_by_unit,
    street_units,
)
from gis.patrol.units import parse_units, polygon_units
from gis.units import UnitSpec


def _period_segments(segs: gpd.GeoDataFrame, start, end, shift) -> gpd.GeoDataFrame:
    """Segments that start inside the period and the shift."""
    keep = np.ones(len(segs), dtype=bool)
    t = segs["t_start"]
    if start is not None:
        keep &= (t >= pd.Timestamp(start)).to_numpy()
    if end is not None:
        keep &= (t < pd.Timestamp(end)).to_numpy()
    keep &= in_shift(t, shift)
    return segs[keep]


COVERAGE_COLUMNS = ("unit_id", "visits", "dwell_s", "last_visit", "max_gap_s", "covered_share")


def coverage_table(
    samples: gpd.GeoDataFrame,
    units,
    *,
    streets: gpd.GeoDataFrame | None = None,
    segs: gpd.GeoDataFrame | None = None,
    all_units: Iterable[str] | None = None,
    start=None,
    end=None,
    shift=None,
    buffer_m: float = GPS_ACCURACY_M,
    sample_m: float = 10.0,
    visit_gap_s: float = 60.0,
) -> pd.DataFrame:
    """Presence and street coverage per unit: the table of ``gridlens coverage``.

    Parameters
    ----------
    samples
        ``interpolate`` output (or fixes).
    units
        A grid layer (its micro-grids) or other polygon layer, or in the unit grammar
        (``gis.units.UnitSpec``) ``"h3:<res>"`` or ``"streets"``
        (each sample counts for the nearest street within ``buffer_m``; needs ``streets``).
    streets
        The street lines; without them ``covered_share`` is NaN.
    segs
        ``segments(fixes)``: the track lines for street coverage (default: built from the
        samples, which lie on the same straight segments).
    all_units
        Unit ids that get a row even without presence (H3 cells of the district, say). Polygon
        layers and streets always list all their units.
    start, end
        The period (naive local times); default the samples' extent.
    shift
        Only time inside this daily shift counts: ``"09:00-17:00"``, ``"day"``/``"night"``
        (``DEFAULT_SHIFTS``) or None for all hours. ``max_gap_s`` is then the longest time
        nobody was in the unit within one occurrence of the shift (an occurrence without
        presence counts whole), and only segments starting inside the shift cover streets.

    Returns
    -------
    pandas.DataFrame
        ``unit_id, visits, dwell_s, last_visit, max_gap_s, covered_share`` (see ``presence``)
        plus ``first_visit, time_since_last_visit_s, street_m, covered_m``, sorted by unit.
        ``covered_share``: for streets the share of the street's length passed within
        ``buffer_m``; for micro-grids and H3 cells the share of the length of the streets
        inside the unit passed within ``buffer_m`` -- NaN for a unit without streets (or when
        no streets are given). ``attrs["period"] = (start, end)``.
    """
    window = shift_window(shift)
    text = isinstance(units, str | UnitSpec)
    kind = UnitSpec.parse(units, allowed=("h3", "streets")).kind if text else None
    unit_ids = None
    if kind == "streets":
        if streets is None:
            raise InputError("coverage by streets needs the street lines")
        layer = street_units(streets)
        unit_ids = assign_streets(samples, streets, max_distance_m=buffer_m)
        pres_units = layer
        ids_all = layer["unit_id"].to_numpy(dtype=object)
    else:
        k, spec = parse_units(units)
        pres_units = units
        ids_all = polygon_units(spec)["unit_id"].to_numpy(dtype=object) if k == "polygons" else None
    if window is not None:
        pres = presence(
            samples,
            pres_units,
            by=("unit", "shift"),
            shifts={k: format_window(v) for k, v in window.items()},
            start=start,
            end=end,
            visit_gap_s=visit_gap_s,
            unit_ids=unit_ids,
        ).drop(columns="shift")
    else:
        pres = presence(
            samples, pres_units, start=start, end=end, visit_gap_s=visit_gap_s, unit_ids=unit_ids
        )
    p0, p1 = (pd.Timestamp(x) for x in pres.attrs["period"])
    wanted = set(pres["unit_id"].astype(str))
    if ids_all is not None:
        wanted |= set(map(str, ids_all))
    if all_units is not None:
        wanted |= set(map(str, all_units))

    cov = None
    if streets is not None and len(streets):
        if segs is None:
            segs = segments(samples)
        segs = _period_segments(segs, p0, p1, shift)
        if kind == "streets":
            sc = street_coverage(streets, segs, buffer_m=buffer_m, sample_m=sample_m).streets
            cov = pd.DataFrame(
                {
                    "unit_id": ids_as_text(sc["street_id"].to_numpy()),
                    "street_m": sc["length_m"].to_numpy(),
                    "covered_m": sc["covered_m"].to_numpy(),
                    "covered_share": sc["covered_share"].to_numpy(),
                }
            )
        else:
            cov = street_coverage_by_unit(
                streets, segs, units, buffer_m=buffer_m, sample_m=sample_m
            )
        if all_units is None and ids_all is None:
            wanted |= set(cov["unit_id"].astype(str))

    pres = pres.assign(unit_id=pres["unit_id"].astype(str))
    out = pd.DataFrame({"unit_id": sorted(wanted)}).merge(pres, on="unit_id", how="left")
    p0n, p1n = p0.as_unit("ns").value, p1.as_unit("ns").value
    empty_gap = longest_shift_s(window, p0n, p1n) if window else (p1n - p0n) / NS
    out["visits"] = out["visits"].fillna(0).astype(np.int64)
    out["dwell_s"] = out["dwell_s"].fillna(0.0).astype(float)
    out["max_gap_s"] = out["max_gap_s"].fillna(empty_gap).astype(float)
    for col in ("first_visit", "last_visit"):
        out[col] = pd.to_datetime(out[col]).astype("datetime64[ns]")
    if cov is not None:
        cov = cov.assign(unit_id=cov["unit_id"].astype(str))
        out = out.merge(cov[["unit_id", "street_m", "covered_m", "covered_share"]], how="left")
        out["street_m"] = out["street_m"].fillna(0.0)
        out["covered_m"] = out["covered_m"].fillna(0.0)
        out.loc[out["street_m"] <= 0, "covered_share"] = np.nan
    else:
        out["street_m"] = np.nan
        out["covered_m"] = np.nan
        out["covered_share"] = np.nan
    first = list(COVERAGE_COLUMNS)
    rest = ["first_visit", "time_since_last_visit_s", "street_m", "covered_m"]
    out = out[first + rest]
    out.attrs["period"] = (p0, p1)
    return out
