"""``export_incidents``: incidents out to CSV, Excel, GeoJSON or GeoPackage, in any CRS;
``stored_export_pages``: the store's incidents in some filters, page by page, for it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy.engine import Engine

from gis.core import coords
from gis.core.errors import InputError
from gis.incidents.prepare import STORE_COLUMNS
from gis.io import write_geo_file
from gis.store.pages import iter_export_pages
from gis.taxonomy import category_mask, read_taxonomy


def export_incidents(
    frame: gpd.GeoDataFrame,
    path: str | Path,
    *,
    crs: str | int | None = None,
    lang: str | None = None,
    taxonomy: pd.DataFrame | None = None,
) -> Path:
    """Write incidents to CSV (lon/lat), Excel, GeoJSON or GeoPackage.

    Parameters
    ----------
    crs
        ``None``/``"wgs84"`` (default) or ``"gcj02"``/``"bd09"``/an EPSG code: the coordinates
        are converted on the way out (GeoJSON/GeoPackage then carry a note in ``coord_crs``;
        their declared CRS stays EPSG:4326 for the Chinese systems, which have no EPSG code).
    lang
        ``"zh"`` or ``"en"``: add ``category_name`` in that language (from ``taxonomy``).
    """
    return write_geo_file(_prepared(frame, crs, lang, taxonomy), path)


def _prepared(frame: gpd.GeoDataFrame, crs, lang, taxonomy) -> gpd.GeoDataFrame:
    cols = [c for c in STORE_COLUMNS if c in frame]
    out = frame[[*cols, frame.geometry.name]].copy()
    name = coords.normalize_crs(crs)
    if lang is not None:
        if lang not in ("zh", "en"):
            raise InputError(f"lang={lang!r}; use zh or en")
        tax = read_taxonomy() if taxonomy is None else taxonomy
        names = tax.set_index("code")[f"name_{lang}"]
        pos = out.columns.get_loc("category_code") + 1 if "category_code" in out else 0
        out.insert(
            pos, "category_name", out.get("category_code", pd.Series(dtype=object)).map(names)
        )
    if name != coords.WGS84 and len(out):
        geoms = out.geometry.to_numpy()
        x, y = coords.from_wgs84(shapely.get_x(geoms), shapely.get_y(geoms), name)
        out = out.set_geometry(shapely.points(x, y))
        if name.startswith("EPSG:"):
            out = out.set_crs(name, allow_override=True)
        out["export_crs"] = name
    return out


def export_incident_pages(
    pages: Iterable[gpd.GeoDataFrame],
    path: str | Path,
    *,
    crs: str | int | None = None,
    lang: str | None = None,
    taxonomy: pd.DataFrame | None = None,
) -> tuple[Path, int]:
    """:func:`export_incidents` of incidents given page by page (e.g. read from the store in
    chunks, ``gis.store.pages.iter_export_pages``): CSV and GeoPackage files are written one
    page at a time, so memory holds one page whatever the number of incidents; Excel and
    GeoJSON files, which are written whole, gather the pages first. No page: an empty file.

    Returns
    -------
    tuple
        The path written and the number of incidents.
    """
    path = Path(path)
    if lang is not None and taxonomy is None:
        taxonomy = read_taxonomy()
    if path.suffix.lower() not in {".csv", ".gpkg"}:
        frames = list(pages) or [_empty()]
        frame = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=frames[0].crs)
        return export_incidents(frame, path, crs=crs, lang=lang, taxonomy=taxonomy), len(frame)
    n = 0
    for page in pages:
        write_geo_file(_prepared(page, crs, lang, taxonomy), path, append=n > 0)
        n += len(page)
    if n == 0:  # nothing in the filters: an empty file with the columns
        return export_incidents(_empty(), path, crs=crs, lang=lang, taxonomy=taxonomy), 0
    return path, n


def _empty() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {c: pd.Series(dtype=object) for c in STORE_COLUMNS},
        geometry=gpd.GeoSeries([], crs=4326),
    )


def stored_export_pages(
    engine: Engine,
    *,
    start=None,
    end=None,
    categories: Iterable[str] = (),
    sources: Iterable[str] = (),
    micros: Iterable[str] | None = None,
    chunk: int = 200_000,
) -> Iterator[gpd.GeoDataFrame]:
    """The stored incidents in the filters as points (EPSG:4326), one store page at a time
    (``gis.store.pages.iter_export_pages``: memory holds one page), for
    :func:`export_incident_pages`.

    Parameters
    ----------
    start, end
        ``start <= occurred_at < end`` (naive wall-clock times; either optional).
    categories
        THE category rule (``gis.taxonomy.category_mask``: ``"05"`` is the whole class);
        empty: all.
    sources
        Keep these sources (empty: all).
    micros
        Keep the incidents whose stored micro-grid is one of these (None: all).
    """
    cats = list(categories or ())
    pages = iter_export_pages(
        engine,
        start=start,
        end=end,
        sources=tuple(sources or ()),
        micros=None if micros is None else tuple(micros),
        chunk=chunk,
    )
    for page in pages:
        if cats:
            page = page[category_mask(page["category_code"], cats)]
        if len(page):
            yield gpd.GeoDataFrame(
                page.drop(columns=["id", "lon", "lat"]),
                geometry=gpd.points_from_xy(page["lon"], page["lat"]),
                crs=4326,
            )
