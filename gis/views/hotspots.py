"""The numbers behind the Hotspots page: units by name, counts from a precomputed point-to-unit
index, Gi* / local Moran / emerging patterns on them, the metrics, a unit's detail and the export.

Pure functions on frames and arrays (no Streamlit, no database); the statistics themselves come
from ``gis.hotspots``. The page's speed rests on ``count_from_index``: the point-to-unit index
(``gis.hotspots.unit_index``) is computed once per unit choice, so a filter change only masks
and re-counts (``numpy.bincount``) instead of locating every point again.
"""

from __future__ import annotations

import io
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from gis import hotspots as hs
from gis.core.errors import InputError
from gis.core.geometry import as_area
from gis.grids import descendants
from gis.io import neutralize_formulas
from gis.units import UnitSpec

#: the unit choices the page offers (the CLI's ``--by`` spelling)
H3_RESOLUTIONS = (8, 9, 10)
FISHNET_SIZES_M = (100, 200, 250, 500)
GRID_LEVELS = ("micro", "l2", "l1")
#: Gi* bins from hot to cold, as ArcGIS lists them (99/95/90 % hot, not significant, cold)
GI_BINS = (3, 2, 1, 0, -1, -2, -3)
#: local Moran labels, clusters then outliers
LISA_CLASSES = ("HH", "LL", "HL", "LH", "ns")
#: the CLI's column names, in order; the export keeps those present in the current view
EXPORT_COLUMNS = (
    "unit_id",
    "unit_name",
    "count",
    "density_km2",
    "gi_z",
    "gi_p",
    "gi_bin",
    "n_neighbors",
    "lisa_i",
    "lisa_q",
    "lisa_p",
    "lisa_cluster",
    "pattern",
)


def make_units(by: str, grids: gpd.GeoDataFrame, within: str | None = None) -> gpd.GeoDataFrame:
    """The analysis units of ``by`` over the district of ``grids`` (zero-count cells included).

    Parameters
    ----------
    by
        ``h3:RES``, ``fishnet:METRES`` or ``grid:LEVEL`` (``gis.units.UnitSpec``).
    grids
        The grid hierarchy (EPSG:4326); the study area is the union of its level-1 grids.
    within
        A grid code: the study area is that grid instead (H3 / fishnet cells intersecting
        it; for grid units, those of the level inside it). A grid level coarser than
        ``within`` keeps the whole district's grids.
    """
    spec = UnitSpec.parse(by, allowed=("h3", "fishnet", "grid"))
    if not within:
        return hs.analysis_units(spec, grids)
    inside = grids[grids["code"].isin(descendants(within, grids))]
    if inside.empty:
        raise InputError(f"no grid {within!r}")
    if spec.kind == "grid":
        level = inside[inside["level"] == spec.level]
        if len(level):
            return hs.grid_units(level, spec.level)
        return hs.grid_units(grids, spec.level)
    area = as_area([within], grids)
    if spec.kind == "h3":
        return hs.h3_units(area, spec.h3_resolution)
    return hs.fishnet_units(area, spec.cell_m)


def count_from_index(
    unit_idx: np.ndarray, units: gpd.GeoDataFrame, keep: np.ndarray | None = None
) -> gpd.GeoDataFrame:
    """``gis.hotspots.count_by_unit`` from a precomputed point-to-unit index.

    Parameters
    ----------
    unit_idx
        Row position in ``units`` of every point (``gis.hotspots.unit_index``; -1 = none).
    units
        The units frame the index refers to.
    keep
        Boolean mask of the points to count (the filters); default all.

    Returns
    -------
    geopandas.GeoDataFrame
        The same columns, order and ``attrs`` as ``count_by_unit`` on the kept points:
        ``unit_id, count, ..., area_km2, density_km2, rate_per_1000, geometry``.
    """
    idx = np.asarray(unit_idx, dtype=np.int64)
    sel = idx if keep is None else idx[np.asarray(keep, dtype=bool)]
    inside = sel[sel >= 0]
    counts = np.bincount(inside, minlength=len(units)).astype(np.int64)
    out = hs.unit_counts_frame(units, counts)
    out.attrs.update(n_points=int(len(sel)), n_outside=int(len(sel) - len(inside)))
    return out


def analyse(
    counted: gpd.GeoDataFrame,
    *,
    weights: Literal["queen", "band"] = "queen",
    band_m: float | None = None,
    value: str = "count",
    lisa: bool = False,
    permutations: int | None = 9999,
    seed: int = 0,
) -> gpd.GeoDataFrame:
    """Gi* (always: it is cheap) and, with ``lisa``, local Moran on the same weights.

    Parameters
    ----------
    counted
        From ``count_from_index`` or ``count_by_unit``.
    weights
        ``"queen"`` contiguity (H3: the six edge neighbours) or ``"band"`` (centroid distance
        band of ``band_m`` metres; chosen like Optimized Hot Spot Analysis when None).
    value
        ``count`` or ``density_km2``.
    lisa
        Also run local Moran (permutation inference), on the band Gi* used.
    permutations, seed
        Local Moran's permutations (None: ``gis.hotspots.default_permutations``) and seed.

    Returns
    -------
    geopandas.GeoDataFrame
        ``counted`` plus ``gi_z, gi_p, gi_bin, n_neighbors`` and, with ``lisa``, ``lisa_i,
        lisa_q, lisa_p, lisa_cluster``; ``attrs`` as ``gis.hotspots.hotspots`` (``band_m``,
        ``band_rule`` ...).
    """
    gi = hs.hotspots(counted, method="gi_star", weights=weights, band_m=band_m, value=value)
    if lisa:
        lm = hs.hotspots(
            counted,
            method="local_moran",
            weights=weights,
            band_m=gi.attrs.get("band_m") if weights == "band" else None,
            value=value,
            permutations=permutations,
            seed=seed,
        )
        geom = gi.pop("geometry")
        for col in ("lisa_i", "lisa_q", "lisa_p", "lisa_cluster"):
            gi[col] = lm[col].to_numpy()
        gi["geometry"] = geom
        gi = gpd.GeoDataFrame(gi, geometry="geometry", crs=counted.crs)
        gi.attrs = {**lm.attrs, **{k: v for k, v in gi.attrs.items() if k.startswith("band")}}
        gi.attrs["method"] = "gi_star+local_moran"
    return gi


#: the multiple-comparison corrections local Moran offers, as ArcGIS's Cluster and Outlier tool
LISA_CORRECTIONS = ("fdr", "none", "bonferroni")


def lisa_relabel(
    frame: gpd.GeoDataFrame, correction: str = "fdr", alpha: float = 0.05
) -> gpd.GeoDataFrame:
    """``lisa_cluster`` again from ``lisa_p`` and ``lisa_q`` under a multiple-comparison
    ``correction``: ``fdr`` (Benjamini-Hochberg at ``alpha``, the library's default), ``none``
    (pseudo p <= ``alpha``) or ``bonferroni`` (p <= ``alpha`` / number of units).

    Returns a copy; ``attrs["lisa_correction"]`` and ``attrs["lisa_raw_significant"]`` (units
    with p <= alpha before any correction) say what was done.
    """
    if correction not in LISA_CORRECTIONS:
        raise InputError(f"correction must be one of {', '.join(LISA_CORRECTIONS)}")
    p = np.nan_to_num(pd.to_numeric(frame["lisa_p"]).to_numpy(dtype=float), nan=1.0)
    if correction == "fdr":
        sig = hs.fdr_mask(p, alpha)
    elif correction == "bonferroni":
        sig = p <= alpha / max(len(p), 1)
    else:
        sig = p <= alpha
    quad = {1: "HH", 2: "LH", 3: "LL", 4: "HL"}
    labels = [quad.get(int(q), "ns") for q in frame["lisa_q"].to_numpy()]
    out = frame.copy()
    out["lisa_cluster"] = np.where(sig, labels, "ns").astype(object)
    out.attrs = {
        **frame.attrs,
        "lisa_correction": correction,
        "lisa_raw_significant": int((p <= alpha).sum()),
    }
    return out


def lisa_nothing_reason(frame: pd.DataFrame) -> dict | None:
    """Why local Moran marks no unit, as numbers for a sentence, or None if some unit is
    marked: ``n`` units, ``raw`` significant at p <= 0.05 before correction, ``correction``."""
    if "lisa_cluster" not in frame.columns or (frame["lisa_cluster"] != "ns").any():
        return None
    return {
        "n": int(len(frame)),
        "raw": int(frame.attrs.get("lisa_raw_significant", 0)),
        "correction": frame.attrs.get("lisa_correction", "fdr"),
    }


def summary(frame: pd.DataFrame) -> dict:
    """The page's metrics of an analysed frame.

    Returns
    -------
    dict
        ``units`` (rows), ``incidents`` (sum of ``count``), ``hot`` and ``cold``: units per
        confidence ``{99: n, 95: n, 90: n}`` (Gi* bins ±3/±2/±1), ``hot_total``,
        ``cold_total``, ``band_m`` (None for contiguity), ``band_rule``, and ``lisa`` (units
        per HH/LL/HL/LH/ns) when local Moran ran.
    """
    bins = frame["gi_bin"].to_numpy() if "gi_bin" in frame.columns else np.zeros(len(frame))
    levels = {3: 99, 2: 95, 1: 90}
    hot = {pct: int((bins == b).sum()) for b, pct in levels.items()}
    cold = {pct: int((bins == -b).sum()) for b, pct in levels.items()}
    out = {
        "units": int(len(frame)),
        "incidents": int(pd.to_numeric(frame["count"]).sum()),
        "hot": hot,
        "cold": cold,
        "hot_total": int(sum(hot.values())),
        "cold_total": int(sum(cold.values())),
        "band_m": frame.attrs.get("band_m"),
        "band_rule": frame.attrs.get("band_rule"),
    }
    if "lisa_cluster" in frame.columns:
        vc = frame["lisa_cluster"].value_counts()
        out["lisa"] = {c: int(vc.get(c, 0)) for c in LISA_CLASSES}
    if "pattern" in frame.columns:
        out["patterns"] = {k: int(v) for k, v in frame["pattern"].value_counts().items()}
    return out


def unit_detail(
    incidents: pd.DataFrame,
    *,
    top: int = 10,
    history: pd.DataFrame | None = None,
    start=None,
    end=None,
    coverage: tuple | None = None,
) -> dict:
    """What happened in one unit: by category, hour x weekday, weekly trend, top addresses,
    and this period against the previous one and the same period last year.

    Parameters
    ----------
    incidents
        The unit's incidents in the filters: ``category_code, occurred_at`` and optionally
        ``address``.
    top
        Number of addresses listed.
    history, start, end, coverage
        The unit's incidents in the other filters but any period, the period ``[start,
        end)`` and the (first, last) instants the data cover: with them, ``comparison`` is
        ``gis.hotspots.period_comparison`` (total row first, then by category).

    Returns
    -------
    dict
        ``n``; ``by_category`` (Series, largest first); ``hour_weekday`` (24 x 7 frame of
        ``gis.hotspots.hour_weekday``: hours down, Monday first across); ``weekly`` (counts
        per week starting Monday, empty weeks as 0); ``top_addresses`` (frame ``address,
        count``); ``comparison`` (frame, or None).
    """
    t = pd.to_datetime(incidents["occurred_at"])
    by_cat = incidents["category_code"].value_counts()
    if len(t):
        week = (t - pd.to_timedelta(t.dt.day_of_week, unit="D")).dt.normalize()
        weekly = week.value_counts().sort_index()
        full = pd.date_range(weekly.index.min(), weekly.index.max(), freq="7D")
        weekly = weekly.reindex(full, fill_value=0)
    else:
        weekly = pd.Series(dtype=np.int64)
    weekly.index.name = "week"
    if "address" in incidents.columns:
        addr = incidents["address"].dropna().astype(str)
        addr = addr[addr.str.strip() != ""].value_counts().head(top)
        top_addr = pd.DataFrame({"address": addr.index, "count": addr.to_numpy()})
    else:
        top_addr = pd.DataFrame({"address": [], "count": []})
    comparison = None
    if history is not None and start is not None and end is not None:
        total = hs.period_comparison(history, start, end, by=None, coverage=coverage)
        cats = hs.period_comparison(history, start, end, by="category", coverage=coverage)
        comparison = pd.concat([total, cats[cats["this"] > 0]], ignore_index=True)
    return {
        "n": int(len(incidents)),
        "by_category": by_cat,
        "hour_weekday": hs.hour_weekday(incidents),
        "weekly": weekly.astype(np.int64),
        "top_addresses": top_addr,
        "comparison": comparison,
    }


def export_frame(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The unit table of the current view with the CLI's column names (those present)."""
    cols = [c for c in EXPORT_COLUMNS if c in frame.columns]
    return gpd.GeoDataFrame(frame[cols + ["geometry"]], geometry="geometry", crs=frame.crs)


def export_bytes(frame: gpd.GeoDataFrame, fmt: Literal["csv", "geojson"]) -> bytes:
    """``export_frame`` as CSV (UTF-8 with BOM, for Excel; no geometry) or GeoJSON (EPSG:4326)."""
    table = export_frame(frame)
    if fmt == "csv":
        buf = io.StringIO()
        neutralize_formulas(pd.DataFrame(table.drop(columns="geometry"))).to_csv(buf, index=False)
        return ("\ufeff" + buf.getvalue()).encode("utf-8")
    if fmt == "geojson":
        return table.to_json(drop_id=True, ensure_ascii=False).encode("utf-8")
    raise InputError(f"export format must be csv or geojson, got {fmt!r}")


def unit_tips(
    frame: pd.DataFrame,
    labels: dict[str, str],
    count_word: str,
    density_word: str,
    fmt_int=lambda n: f"{n:,}",
) -> pd.Series:
    """The map tooltip of each unit: its name (``labels``, else its id), then its labelled
    count and density, e.g. ``凤凰社区 · 东关蔬菜批发市场 / 事件 330 · 密度 1,225 /km²``."""
    ids = frame["unit_id"].astype(str)
    names = ids.map(labels).fillna(ids)
    counts = [fmt_int(int(n)) for n in frame["count"]]
    dens = [f"{d:,.0f}" if np.isfinite(d) else "—" for d in frame["density_km2"].astype(float)]
    return pd.Series(
        [
            f"{name}\n{count_word} {c} · {density_word} {d} /km²"
            for name, c, d in zip(names, counts, dens, strict=True)
        ],
        index=frame.index,
    )


def unit_ranking(frame: pd.DataFrame) -> list[str]:
    """Unit ids, most incidents first (ties by id): the order of the page's unit chooser."""
    order = np.lexsort((frame["unit_id"].astype(str).to_numpy(), -frame["count"].to_numpy()))
    return [str(u) for u in frame["unit_id"].to_numpy()[order]]


def emerging_available() -> bool:
    """Whether ``gis.hotspots`` has the space-time analysis (emerging hot spots)."""
    return hasattr(hs, "space_time_cube") and hasattr(hs, "emerging_hotspots")


def add_emerging(
    frame: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame,
    incidents: pd.DataFrame,
    *,
    step: str = "week",
    start=None,
    end=None,
    weights: Literal["queen", "band"] = "queen",
    band_m: float | None = None,
) -> gpd.GeoDataFrame:
    """``frame`` plus the emerging hot spot ``pattern`` (and its trend columns) per unit.

    Parameters
    ----------
    frame
        An analysed frame on ``units`` (same rows, same order).
    units
        The units frame (for the space-time cube and its weights).
    incidents
        The filtered incidents: ``lon, lat, occurred_at``.
    step, start, end
        The cube's time step (``day``, ``week``, ``month``) and period (end exclusive).
    weights, band_m
        The spatial neighbours (as Gi*; a band in metres, already chosen, for ``band``).
    """
    pts = incidents[["lon", "lat"]].to_numpy(dtype=float)
    cube = hs.space_time_cube(pts, incidents["occurred_at"], units, step=step, start=start, end=end)
    return emerging_from_cube(frame, units, cube, weights=weights, band_m=band_m)


def emerging_from_cube(
    frame: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame,
    cube: hs.SpaceTimeCube,
    *,
    weights: Literal["queen", "band"] = "queen",
    band_m: float | None = None,
) -> gpd.GeoDataFrame:
    """:func:`add_emerging` on counts per unit and step already made: ``cube`` from
    ``gis.hotspots.space_time_cube`` or, at a district's volume, from the store's incident cube
    (``gis.views.aggregates.space_time_counts``)."""
    step = cube.step
    W, _ = hs.unit_weights(units, "band" if weights == "band" else "queen", band_m=band_m)
    em = pd.DataFrame(hs.emerging_hotspots(cube, W)).set_index("unit_id")
    out = frame.copy()
    ids = out["unit_id"].to_numpy()
    geom = out.pop("geometry")
    for col in [c for c in em.columns if c != "geometry"]:
        out[col] = em[col].reindex(ids).to_numpy()
    out["geometry"] = geom
    out = gpd.GeoDataFrame(out, geometry="geometry", crs=frame.crs)
    out.attrs = {**frame.attrs, "emerging_step": step, "emerging_steps": int(cube.counts.shape[1])}
    return out
