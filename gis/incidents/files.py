"""``read_incident_file``: incident points from a file for analysis without a database."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.core import settings
from gis.core.times import parse_times
from gis.io import read_geo_file
from gis.io.columns import INCIDENT_FIELDS, detect_columns, read_mapping_file

#: Fields that say where a row is: they choose the reader's geometry columns.
_GEOMETRY_FIELDS = ("lon", "lat", "wkt")


def read_incident_file(
    path: str | Path,
    *,
    tz: str | None = None,
    mapping: Mapping[str, str | None] | str | Path | None = None,
) -> gpd.GeoDataFrame:
    """Incident points from a CSV/Excel with lon/lat (or WKT) or any vector file (EPSG:4326).

    The file is not imported: this is the reader of the commands that analyse a file directly
    (``gridlens hotspots --incidents``, ``gridlens evaluate --incidents``).

    Parameters
    ----------
    path
        CSV/TSV, Excel, GeoJSON, GeoPackage, Shapefile, FlatGeobuf or GeoParquet.
    tz
        Zone of the wall-clock times returned (default ``settings.DISTRICT_TZ``): times with a
        UTC offset are converted to it, times without one are taken as in it.
    mapping
        Overrides of the detected columns, ``{field: column}`` or a mapping file (YAML/JSON/CSV),
        fields as for ``import_incidents`` (``lon``, ``lat``, ``wkt``, ``occurred_at``,
        ``category_code`` ..., with the aliases ``time``, ``category``, ``lng``/``x``, ``y``).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per readable point (EPSG:4326) with ``occurred_at`` (naive wall clock in
        ``tz``; NaT where unreadable) and ``category_code`` (text) when the file has such
        columns. The time column is found by ``detect_columns`` (``occurred_at``, ``time``,
        ``发生时间``, ``上报时间``, ``Created Date`` ...; a report time stands in when there is
        no occurrence time). Rows without a point are dropped; their number is in
        ``attrs["n_dropped"]``.
    """
    tz = settings.DISTRICT_TZ if tz is None else tz
    given = read_mapping_file(mapping) if isinstance(mapping, str | Path) else dict(mapping or {})
    where = {}  # the geometry columns chosen by the user go to the reader
    for key, column in given.items():
        target = INCIDENT_FIELDS.canonical(key)
        if target in _GEOMETRY_FIELDS and column is not None and str(column).strip():
            where[target] = str(column).strip()
    frame, reason = read_geo_file(path, **where)
    cols = [c for c in frame.columns if c != frame.geometry.name]
    sample = pd.DataFrame(frame[cols].head(200)).astype("string")
    # a WKT column is consumed by the reader; lon/lat stay in the frame and in the mapping
    others = {k: v for k, v in given.items() if INCIDENT_FIELDS.canonical(k) != "wkt"}
    detected = detect_columns(cols, sample).with_overrides(others, list(map(str, cols)))
    out = gpd.GeoDataFrame(geometry=frame.geometry, crs=frame.crs)
    time_field = next((f for f in ("occurred_at", "reported_at") if f in detected), None)
    if time_field is not None:
        out["occurred_at"] = parse_times(frame[detected[time_field]], tz).to_numpy()
    if "category_code" in detected:
        out["category_code"] = frame[detected["category_code"]].astype("string").to_numpy()
    geoms = out.geometry.to_numpy()
    ok = (reason == "").to_numpy() & ~(
        pd.isna(geoms) | np.array([g is None or g.is_empty for g in geoms])
    )
    out = out[ok]
    out.attrs["n_dropped"] = int((~ok).sum())
    return out
