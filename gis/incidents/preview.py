"""``detect``: how a file would be imported (columns, encoding, CRS guess), without importing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from gis.core import coords
from gis.core.errors import InputError
from gis.incidents.intake import store_context
from gis.incidents.locate import District, crs_hint
from gis.incidents.prepare import raw_coordinates
from gis.io import read_source
from gis.io.columns import ColumnMapping, detect_columns, read_mapping_file
from gis.taxonomy import map_categories, read_category_aliases


@dataclass
class IntakePreview:
    """What ``detect`` saw in a file, for the Data page's preview and overrides."""

    file_name: str
    kind: str
    encoding: str | None
    delimiter: str | None
    row_count: int
    columns: list[str]
    mapping: ColumnMapping
    sample: pd.DataFrame = field(repr=False)
    crs_guess: str | None = None
    crs_why: str = ""
    unknown_categories: pd.Series = field(default_factory=lambda: pd.Series(dtype=int))
    malformed_rows: int = 0
    sheets: list[str] | None = None
    all_sheets: list[str] | None = None


def detect(
    source,
    *,
    name: str | None = None,
    mapping: Mapping[str, str | None] | str | Path | None = None,
    sample_rows: int = 20,
    engine: Engine | None = None,
    aliases: dict[str, str] | None = None,
    sheet: str | None = None,
) -> IntakePreview:
    """Read a file and say how it would be imported, without importing anything.

    Parameters
    ----------
    source, name
        As for ``import_incidents``.
    mapping
        Overrides to apply to the detected columns (dict or mapping file).
    engine
        When given, the store's grids are used to guess the coordinate system (the reading
        that puts most points inside the district) and its taxonomy for the category check.

    Returns
    -------
    IntakePreview
        ``mapping`` (with confidence and why), ``sample`` (first rows with the mapped fields),
        ``encoding``, ``delimiter``, ``row_count``, ``crs_guess`` + ``crs_why``, and the unknown
        category texts with their counts.
    """
    table, info = read_source(source, name=name, sheet=sheet)
    detected = detect_columns(table.columns, table.head(500))
    overrides = read_mapping_file(mapping) if isinstance(mapping, str | Path) else (mapping or {})
    cmap = detected.with_overrides(overrides, list(map(str, table.columns)))
    sample = (
        pd.DataFrame(table.drop(columns=[table.geometry.name]))
        if isinstance(table, gpd.GeoDataFrame)
        else table
    )
    sample = sample.head(sample_rows)
    district = None
    if engine is not None:
        _, versions, store_aliases = store_context(engine)
        aliases = aliases or store_aliases
        current = versions[versions["valid_to"].isna()] if len(versions) else versions
        district = District.from_grids(current) if len(current) else None
    aliases = aliases if aliases is not None else read_category_aliases()
    unknown = pd.Series(dtype=int)
    if "category_code" in cmap:
        _, unknown = map_categories(table[cmap["category_code"]], aliases)
    guess, why = None, "no coordinates found"
    try:
        x, y, _, crs = raw_coordinates(table, cmap, None, info.name)
        ok = np.isfinite(x) & np.isfinite(y) & ~((x == 0) & (y == 0))
        x, y = x[ok], y[ok]
        if len(x) == 0:
            guess, why = None, "no usable coordinates"
        elif (np.abs(x) > 180).mean() > 0.5 or (np.abs(y) > 90).mean() > 0.5:
            guess, why = None, "projected coordinates (metres): give the EPSG code with --crs"
        elif district is not None:
            _, check = crs_hint(x, y, coords.WGS84, district, 0.0)
            best = min(check, key=check.get)
            guess = best if check[best] < check[coords.WGS84] - 0.05 else coords.WGS84
            shares = ", ".join(f"{k}: {1 - v:.0%}" for k, v in check.items())
            why = f"share of points inside the district read as {shares}"
        else:
            guess = crs
            why = (
                "geographic degrees; GCJ-02 and BD-09 cannot be told from WGS-84 without the "
                "district's grids"
            )
    except InputError:
        pass
    return IntakePreview(
        file_name=info.name,
        kind=info.kind,
        encoding=info.encoding,
        delimiter=info.delimiter,
        row_count=len(table) + (0 if info.malformed is None else len(info.malformed)),
        columns=list(map(str, table.columns)),
        mapping=cmap,
        sample=sample,
        crs_guess=guess,
        crs_why=why,
        unknown_categories=unknown,
        malformed_rows=0 if info.malformed is None else len(info.malformed),
        sheets=info.sheets,
        all_sheets=None if info.sheets is None else info.sheets + (info.skipped_sheets or []),
    )
