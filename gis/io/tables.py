"""Writing tables: THE writer of result tables for the command line, the pages and reports.

CSV is written as UTF-8 with a BOM (Excel on Chinese Windows opens it right), ``.xlsx`` with
openpyxl, ``.parquet`` with pyarrow; with unit geometry a map file (``.geojson``, ``.gpkg``,
``.shp``, ``.fgb``) through :func:`gis.io.files.write_geo_file`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import pandas as pd

from gis.core.errors import InputError
from gis.core.settings import STORAGE_EPSG
from gis.io.cells import neutralize_formulas
from gis.io.files import write_geo_file

__all__ = ["MAP_SUFFIXES", "TABLE_OUT_SUFFIXES", "write_table"]

#: Suffixes written as map files (need a geometry).
MAP_SUFFIXES = (".geojson", ".gpkg", ".shp", ".fgb")
#: Suffixes written as plain tables.
TABLE_OUT_SUFFIXES = (".csv", ".xlsx", ".parquet")


def write_table(
    frame: pd.DataFrame | gpd.GeoDataFrame,
    path: str | Path,
    *,
    geometry: Sequence | gpd.GeoSeries | None = None,
) -> Path:
    """Write ``frame`` to ``path`` in the format its suffix names; return the path.

    Parameters
    ----------
    frame
        The table. A GeoDataFrame written to a map suffix keeps its own geometry.
    path
        ``.csv`` (UTF-8 with BOM), ``.xlsx``, ``.parquet``, or a map file ``.geojson``,
        ``.gpkg``, ``.shp``, ``.fgb`` (other suffixes are written as CSV). Parent folders are
        created.
    geometry
        Shapely geometries in EPSG:4326, one per row, for a map file when ``frame`` has none.

    Raises
    ------
    InputError
        A map file asked for without any geometry.
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    suffix = out.suffix.lower()
    if suffix in MAP_SUFFIXES:
        if geometry is not None:
            geo = gpd.GeoDataFrame(
                pd.DataFrame(frame).drop(columns="geometry", errors="ignore"),
                geometry=list(geometry),
                crs=STORAGE_EPSG,
            )
        elif isinstance(frame, gpd.GeoDataFrame):
            geo = frame
        else:
            raise InputError(f"{out.name}: no unit geometry for a map file; write .csv")
        return write_geo_file(geo, out)
    if suffix == ".parquet":
        # pandas stores ``attrs`` as JSON in the Parquet metadata: a Timestamp there (a
        # coverage table's period) fails the write, and the attrs are not part of the table
        plain = frame.copy(deep=False)
        plain.attrs = {}
        plain.to_parquet(out, index=False)  # a GeoDataFrame becomes GeoParquet
        return out
    plain = pd.DataFrame(frame)
    if isinstance(frame, gpd.GeoDataFrame):  # geometry as WKT text in CSV and Excel
        name = frame.geometry.name
        plain[name] = frame.geometry.to_wkt()
    plain = neutralize_formulas(plain)  # no live formulas in a spreadsheet (OWASP)
    if suffix == ".xlsx":
        plain.to_excel(out, index=False)
    else:
        plain.to_csv(out, index=False, encoding="utf-8-sig")
    return out
