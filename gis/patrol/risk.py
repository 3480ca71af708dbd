"""Incident risk per unit: counts, density and Getis-Ord Gi* bins (``gis.hotspots``)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis import hotspots as hs


def _points_lonlat(points) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(points, gpd.GeoDataFrame | gpd.GeoSeries):
        geo = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
        geo = geo.to_crs(4326) if geo.crs is not None and geo.crs.to_epsg() != 4326 else geo
        g = geo.to_numpy()
        ok = ~(shapely.is_missing(g) | shapely.is_empty(g))
        lon, lat = np.full(len(g), np.nan), np.full(len(g), np.nan)
        lon[ok], lat[ok] = shapely.get_x(g[ok]), shapely.get_y(g[ok])
        return lon, lat
    return (
        pd.to_numeric(points["lon"], errors="coerce").to_numpy(dtype=float),
        pd.to_numeric(points["lat"], errors="coerce").to_numpy(dtype=float),
    )


def unit_risk(incidents: pd.DataFrame, units_frame: gpd.GeoDataFrame) -> pd.DataFrame:
    """Incident risk per unit: counts, density and Getis-Ord Gi* bins (``gis.hotspots``).

    Parameters
    ----------
    incidents
        Points as a GeoDataFrame (EPSG:4326) or a table with ``lon, lat``; ``category_code``
        when present gives each unit its most frequent category (for the gap reasons).
    units_frame
        Units from ``gis.hotspots`` (``grid_units(grids, "micro")``, ``h3_units(area, res)``);
        every unit gets a row, zero counts included.

    Returns
    -------
    pandas.DataFrame
        ``unit_id, count, area_km2, density_km2, risk`` (= ``density_km2``, incidents per km² of
        the unit's real area), ``gi_z, gi_p, gi_bin`` (analytic Gi* of the counts with queen
        contiguity -- H3 ring 1 -- and FDR bins: 3/2/1 = 99/95/90 % hot) and ``category``
        (most frequent minor class; None without incidents).
    """
    lon, lat = _points_lonlat(incidents)
    pts = np.column_stack([lon, lat]) if len(lon) else np.empty((0, 2))
    counted = hs.count_by_unit(pts, units_frame)
    W, _ = hs.unit_weights(units_frame, "queen")
    gi = hs.gi_star(counted["count"].to_numpy(dtype=float), W)
    out = pd.DataFrame(
        {
            "unit_id": counted["unit_id"].astype(str).to_numpy(dtype=object),
            "count": counted["count"].to_numpy(),
            "area_km2": counted["area_km2"].to_numpy(dtype=float),
            "density_km2": counted["density_km2"].to_numpy(dtype=float),
        }
    )
    out["risk"] = out["density_km2"]
    out["gi_z"], out["gi_p"], out["gi_bin"] = gi.z, gi.p, gi.bins.astype(np.int64)
    out["category"] = None
    if "category_code" in incidents and len(lon):
        idx = hs.unit_index(pts, units_frame)
        ok = idx >= 0
        pairs = pd.DataFrame({"u": idx[ok], "c": incidents["category_code"].to_numpy()[ok]})
        pairs = pairs.dropna()
        if len(pairs):
            top = pairs.groupby(["u", "c"]).size().reset_index(name="n")
            top = top.sort_values(["u", "n", "c"], ascending=[True, False, True])
            top = top.drop_duplicates("u")
            cat = np.full(len(out), None, dtype=object)
            cat[top["u"].to_numpy()] = top["c"].to_numpy(dtype=object)
            out["category"] = cat
    return out


def unit_risk_from_counts(counts: pd.DataFrame, units_frame: gpd.GeoDataFrame) -> pd.DataFrame:
    """:func:`unit_risk` from incidents already counted per unit and category (e.g. from the
    store's incident cube), never the incidents themselves.

    Parameters
    ----------
    counts
        ``unit_id, category_code, count``: incidents per unit of ``units_frame`` and category
        (units not in ``units_frame`` are ignored; a missing category counts for the unit but
        names none).
    units_frame
        As :func:`unit_risk`.

    Returns
    -------
    pandas.DataFrame
        The same table as :func:`unit_risk` on the incidents counted.
    """
    pos = pd.Index(units_frame["unit_id"].astype(str)).get_indexer(
        counts["unit_id"].astype(str).to_numpy()
    )
    ok = pos >= 0
    n = counts["count"].to_numpy(dtype=np.int64)
    per_unit = np.bincount(pos[ok], weights=n[ok], minlength=len(units_frame)).astype(np.int64)
    counted = hs.unit_counts_frame(units_frame, per_unit)
    W, _ = hs.unit_weights(units_frame, "queen")
    gi = hs.gi_star(counted["count"].to_numpy(dtype=float), W)
    out = pd.DataFrame(
        {
            "unit_id": counted["unit_id"].astype(str).to_numpy(dtype=object),
            "count": counted["count"].to_numpy(),
            "area_km2": counted["area_km2"].to_numpy(dtype=float),
            "density_km2": counted["density_km2"].to_numpy(dtype=float),
        }
    )
    out["risk"] = out["density_km2"]
    out["gi_z"], out["gi_p"], out["gi_bin"] = gi.z, gi.p, gi.bins.astype(np.int64)
    out["category"] = None
    pairs = pd.DataFrame(
        {"u": pos[ok], "c": counts["category_code"].to_numpy(dtype=object)[ok], "n": n[ok]}
    ).dropna()
    pairs = pairs[pairs["c"].astype(str) != ""]
    if len(pairs):
        top = pairs.groupby(["u", "c"], as_index=False)["n"].sum()
        top = top.sort_values(["u", "n", "c"], ascending=[True, False, True]).drop_duplicates("u")
        cat = np.full(len(out), None, dtype=object)
        cat[top["u"].to_numpy()] = top["c"].to_numpy(dtype=object)
        out["category"] = cat
    return out
