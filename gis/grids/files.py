"""Grid files in and out: ``import_grids`` / ``validate_grid_file`` / ``export_grids``.

Grids are versioned in the store: an import closes the versions it replaces (``valid_to``) and
adds new ones, so incidents stay attributable to the grid in force when they happened; it
validates the would-be hierarchy before writing anything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy.engine import Engine

from gis.core.crs import areas_m2
from gis.core.errors import InputError
from gis.core.settings import STORAGE_EPSG
from gis.grids.hierarchy import GRID_COLUMNS, in_force
from gis.grids.report import ValidationReport, add_repairs
from gis.grids.validate import validate_hierarchy
from gis.io import accounting_line, read_geo_file, rejected_rows, write_geo_file
from gis.io.columns import GRID_FIELDS, detect_columns
from gis.store import read_grids
from gis.store.frames import save_frame
from gis.store.grids import close_grid_rows, read_current_grid_rows
from gis.store.models import GRID_LEVELS


@dataclass
class GridImportResult:
    """Counts of a grid import, the rejected rows with their ``reason``, and the validation
    report of the hierarchy as it is (or, for a dry run, would be) after the import."""

    total: int
    imported: int
    closed: int
    rejected: pd.DataFrame = field(repr=False)
    report: ValidationReport | None = field(default=None, repr=False)
    written: bool = True
    dry_run: bool = False
    unchanged: int = 0
    retired: int = 0
    area_lost_m2: dict[str, float] = field(default_factory=dict)

    def lost_text(self) -> str:
        """``coverage lost: l1 1.234 km², ...`` (levels whose area would shrink), or ''."""
        if not self.area_lost_m2:
            return ""
        parts = ", ".join(f"{k} {v / 1e6:,.3f} km²" for k, v in self.area_lost_m2.items())
        return f"coverage lost: {parts}"

    def summary_line(self) -> str:
        line = accounting_line(self.imported, self.rejected, self.total)
        if self.unchanged:
            line += f"; {self.unchanged} unchanged (no new version)"
        if self.retired:
            line += f"; {self.retired} grid(s) not in the file retired"
        if self.area_lost_m2:
            line += f"; {self.lost_text()}"
        if self.dry_run:
            return f"dry run, nothing written: {line}; {self.closed} version(s) would be closed"
        if not self.written:
            return f"refused, nothing written: {line}"
        return f"{line}; {self.closed} earlier version(s) closed"


class CoverageShrinkRefused(InputError):
    """``replace`` would leave part of the district without grids; nothing was written."""

    def __init__(self, result: GridImportResult) -> None:
        self.result = result
        super().__init__(
            f"import refused, nothing written: replacing the grids with this file would retire "
            f"{result.retired} grid(s) not in it and shrink the district's grids "
            f"({result.lost_text()}); import a complete file, or allow_shrink=True "
            "(--allow-shrink) to retire them anyway"
        )


_COMPARED = ("name", "level", "parent_code", "kind", "households", "population", "businesses")


def _same_value(a, b) -> bool:
    a_missing, b_missing = a is None or pd.isna(a), b is None or pd.isna(b)
    if a_missing or b_missing:
        return a_missing and b_missing
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return str(a) == str(b)


def _unchanged_codes(current: gpd.GeoDataFrame, accepted: gpd.GeoDataFrame) -> set[str]:
    """Codes of ``accepted`` whose version in force has the same attributes and geometry (to
    1e-9°, about 0.1 mm, after normalising ring order): re-importing them writes nothing."""
    now = current.set_index("code")
    same = set()
    for row in accepted.itertuples(index=False):
        row = row._asdict()
        code = row["code"]
        if code not in now.index:
            continue
        old = now.loc[code]
        if not all(_same_value(row[c], old[c]) for c in _COMPARED if c in row and c in old):
            continue
        a, b = shapely.normalize(row["geometry"]), shapely.normalize(old.geometry)
        if shapely.equals_exact(a, b, tolerance=1e-9):
            same.add(code)
    return same


def _area_lost_m2(before: gpd.GeoDataFrame, after: gpd.GeoDataFrame) -> dict[str, float]:
    """Per level, m² of the level's current area no grid of that level covers after."""
    lost = {}
    for level in GRID_LEVELS:
        old = before.geometry[before["level"] == level].to_numpy()
        if not len(old):
            continue
        new = after.geometry[after["level"] == level].to_numpy()
        gone = shapely.difference(shapely.union_all(old), shapely.union_all(new))
        if gone.is_empty:  # nothing lost (an empty shape has no centre to pick a metric CRS)
            continue
        area = float(areas_m2(gpd.GeoSeries([gone], crs=STORAGE_EPSG))[0])
        if area > 0:
            lost[level] = area
    return lost


class GridImportRefused(InputError):
    """The imported hierarchy would have errors; nothing was written. ``report`` says which."""

    def __init__(self, report: ValidationReport, result: GridImportResult) -> None:
        self.report = report
        self.result = result
        super().__init__(
            f"import refused, nothing written: the hierarchy would have {report.errors} "
            f"error(s) (allow_errors=True imports anyway)\n{report.text()}"
        )


def prepare_grids(
    frame: gpd.GeoDataFrame,
    geometry_reason: pd.Series,
    *,
    mapping: dict[str, str] | None = None,
    default_level: str | None = None,
    guess_fields: bool = False,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Map the file's fields to grid columns and split rows into accepted and rejected.

    Parameters
    ----------
    mapping
        ``{grid column: file column}``, e.g. ``{"code": "PRECINCT", "parent_code": "WARD"}``.
    default_level
        Level for rows whose file has no level column.
    guess_fields
        Map the grid columns ``mapping`` leaves out by :func:`guess_grid_fields` (a file
        column ``mapping`` already uses is not guessed again).
    """
    mapping = dict(mapping or {})
    if guess_fields:
        columns = [c for c in frame.columns if c != frame.geometry.name]
        guessed = guess_grid_fields(columns).items()
        used = set(mapping.values())
        mapping = {**{t: c for t, c in guessed if c not in used}, **mapping}
    frame = frame.copy()
    for target, source in mapping.items():
        if source not in frame:
            raise InputError(f"field {source!r} (for {target}) is not in the file")
        frame[target] = frame[source]
    if "parent_code" not in frame and "parent_cod" in frame:  # Shapefile's 10-character names
        frame["parent_code"] = frame["parent_cod"]
    if "code" not in frame:
        raise InputError("no 'code' field; map one with --code-field")
    if "level" not in frame:
        if default_level is None:
            raise InputError("no 'level' field; map one or give --level")
        frame["level"] = default_level
    if "name" not in frame:
        frame["name"] = frame["code"]
    reason = geometry_reason.astype(object).copy()
    geoms = frame.geometry.to_numpy()
    polygonal = np.isin(shapely.get_type_id(geoms), [3, 6])
    reason[(reason == "") & ~polygonal] = "geometry is not a polygon"
    code = frame["code"].astype(object).where(frame["code"].notna(), None)
    code = code.map(lambda v: None if v is None else str(v).strip())
    frame["code"] = code
    reason[(reason == "") & (code.isna() | (code == ""))] = "no code"
    reason[(reason == "") & code.duplicated(keep="first")] = "duplicate code in the file"
    level_ok = frame["level"].isin(GRID_LEVELS)
    reason[(reason == "") & ~level_ok] = f"level not one of {', '.join(GRID_LEVELS)}"
    invalid = (reason == "") & ~shapely.is_valid(geoms)
    if invalid.any():  # repair rather than reject: the report (issue 4) shows what changed
        fixed = shapely.make_valid(geoms[invalid.to_numpy()])
        geoms = geoms.copy()
        geoms[invalid.to_numpy()] = fixed
    ok = (reason == "").to_numpy()
    keep = [c for c in GRID_COLUMNS if c in frame]
    accepted = gpd.GeoDataFrame(frame.loc[ok, keep], geometry=geoms[ok], crs=frame.crs)
    for col in ("households", "population", "businesses"):
        if col in accepted:
            accepted[col] = pd.to_numeric(accepted[col], errors="coerce").astype("Int64")
    if "parent_code" in accepted:
        accepted["parent_code"] = accepted["parent_code"].map(
            lambda v: None if v is None or pd.isna(v) else str(v).strip()
        )
    polys = accepted.geometry.to_numpy()
    is_poly = shapely.get_type_id(polys) == 3
    polys[is_poly] = [shapely.multipolygons([p]) for p in polys[is_poly]]
    # make_valid can return a collection: keep its polygonal parts
    coll = shapely.get_type_id(polys) == 7
    for i in np.flatnonzero(coll):
        parts = shapely.get_parts(polys[i])
        polys[i] = shapely.multipolygons(
            [q for p in parts for q in shapely.get_parts(p) if shapely.get_type_id(q) == 3]
        )
    accepted = accepted.set_geometry(list(polys), crs=accepted.crs)
    return accepted, rejected_rows(frame, reason)


#: header names (normalised: case-folded, ``_`` as a space) that hold each grid field, best
#: first; the grid schema of the one column guesser, :data:`gis.io.columns.GRID_FIELDS`
GRID_FIELD_NAMES = GRID_FIELDS.names


def guess_grid_fields(columns: list[str]) -> dict[str, str]:
    """The file column that probably holds each grid field (``code, name, parent_code,
    level``): :func:`gis.io.columns.detect_columns` with :data:`gis.io.columns.GRID_FIELDS`
    (known header names first, then headers containing a keyword such as ``上级``); fields with
    no likely column are absent. A starting point for the mapping a person confirms, and what
    the CLI fills unmapped fields with."""
    return dict(detect_columns(columns, schema=GRID_FIELDS))


def import_grids(
    engine: Engine,
    path: str | Path,
    *,
    mapping: dict[str, str] | None = None,
    level: str | None = None,
    replace: bool = False,
    imported_by: str = "cli",
    reason_text: str = "import",
    crs: str | int | None = None,
    allow_errors: bool = False,
    check_only: bool = False,
    sliver_m2: float = 50.0,
    guess_fields: bool = False,
    allow_shrink: bool = False,
) -> GridImportResult:
    """Import grids from a file as new current versions, in one transaction, after validating
    the hierarchy they would make.

    Codes already current in the store get a new version (the old one is closed), unless
    the file's row is the same as the version in force (no new version). With ``replace``,
    every current grid not in the file is retired as well, recorded in ``grid_edits`` so the
    Grids page's history can restore it; if that would shrink the area any level covers by
    more than ``sliver_m2``, the import is refused unless ``allow_shrink``. Before anything is
    written, the would-be hierarchy (current grids merged with the file's) is checked with
    ``validate_hierarchy``; geometries ``prepare_grids`` repaired are reported as
    ``invalid_geometry`` warnings.

    Parameters
    ----------
    mapping
        ``{grid column: file column}`` for ``code``, ``name``, ``parent_code``, ``level``.
    level
        Level of every row when the file has no level field.
    crs
        CRS of a file that declares none (tables: of the WKT or lon/lat columns).
    allow_errors
        Import even when the report has errors (otherwise ``GridImportRefused``, an
        ``InputError`` carrying the report text, and nothing is written).
    check_only
        Dry run: validate and count, write nothing (``result.written`` is False).
    guess_fields
        Fill the fields ``mapping`` leaves out with :func:`guess_grid_fields` (what the
        Grids page offers; the CLI uses it).
    allow_shrink
        With ``replace``: retire the grids missing from the file even when the district's
        grids then cover less (``result.area_lost_m2`` and the summary say how much).

    Raises
    ------
    GridImportRefused
        When the would-be hierarchy has errors and ``allow_errors`` is False.
    CoverageShrinkRefused
        ``replace`` would shrink the area of a level and ``allow_shrink`` is False.
    """
    frame, reasons = read_geo_file(path, crs=crs)
    accepted, rejected = prepare_grids(
        frame, reasons, mapping=mapping, default_level=level, guess_fields=guess_fields
    )
    repaired = _repaired_on_import(frame, reasons, accepted)
    now = datetime.now().replace(microsecond=0)
    with engine.begin() as conn:
        current = read_current_grid_rows(conn)
        version = dict(zip(current["code"], current["version"], strict=True))
        unchanged = _unchanged_codes(current, accepted)
        n_accepted = len(accepted)
        accepted = accepted[~accepted["code"].isin(unchanged)]
        in_file = current["code"].isin(accepted["code"])
        retired = current[~in_file & ~current["code"].isin(unchanged)] if replace else None
        to_close = current[in_file] if retired is None else pd.concat([current[in_file], retired])
        kept = current[~current["code"].isin(to_close["code"])]
        cols = ["code", "name", "level", "parent_code", "geometry"]
        would_be = pd.concat([kept[cols], accepted[[c for c in cols if c in accepted]]])
        would_be = gpd.GeoDataFrame(would_be, geometry="geometry", crs=STORAGE_EPSG)
        report = add_repairs(validate_hierarchy(would_be, sliver_m2=sliver_m2), repaired)
        lost = _area_lost_m2(current, would_be) if replace else {}
        result = GridImportResult(
            total=len(frame),
            imported=n_accepted,
            closed=len(to_close),
            rejected=rejected,
            report=report,
            written=False,
            dry_run=check_only,
            unchanged=len(unchanged),
            retired=0 if retired is None else len(retired),
            area_lost_m2={k: v for k, v in lost.items() if v > sliver_m2},
        )
        if check_only:
            return result
        if report.errors and not allow_errors:
            raise GridImportRefused(report, result)
        if result.area_lost_m2 and not allow_shrink:
            raise CoverageShrinkRefused(result)
        close_grid_rows(conn, to_close["id"], now)
        accepted = accepted.assign(
            version=[int(version.get(c, 0)) + 1 for c in accepted["code"]],
            valid_from=now,
            created_by=imported_by,
        )
        if len(accepted):
            save_frame(conn, "grids", accepted)
        edits = pd.DataFrame(
            {
                "grid_code": accepted["code"].to_numpy(),
                "action": "import",
                "version_before": [version.get(c) for c in accepted["code"]],
                "version_after": accepted["version"].to_numpy(),
                "edited_by": imported_by,
                "edited_at": now,
                "reason": reason_text,
                "details": json.dumps({"file": Path(path).name}, ensure_ascii=False),
            }
        )
        edits["version_before"] = edits["version_before"].astype("Int64")
        edits = gpd.GeoDataFrame(
            edits, geometry=accepted.geometry.to_numpy(), crs=accepted.crs
        ).rename_geometry("geom_after")
        if retired is not None and len(retired):  # every closure recorded: it can be restored
            details = {"file": Path(path).name, "role": "retired"}
            gone = gpd.GeoDataFrame(
                {
                    "grid_code": retired["code"].to_numpy(),
                    "action": "import",
                    "version_before": pd.array(retired["version"], dtype="Int64"),
                    "version_after": pd.array([None] * len(retired), dtype="Int64"),
                    "edited_by": imported_by,
                    "edited_at": now,
                    "reason": reason_text,
                    "details": json.dumps(details, ensure_ascii=False),
                },
                geometry=[None] * len(retired),
                crs=STORAGE_EPSG,
            ).rename_geometry("geom_after")
            gone["geom_before"] = gpd.GeoSeries(retired.geometry.to_numpy(), crs=STORAGE_EPSG)
            edits["geom_before"] = gpd.GeoSeries([None] * len(edits), crs=STORAGE_EPSG)
            edits = pd.concat([edits, gone], ignore_index=True)
        if len(edits):
            save_frame(conn, "grid_edits", edits)
    result.written = True
    return result


def validate_grid_file(
    path: str | Path,
    *,
    mapping: dict[str, str] | None = None,
    level: str | None = None,
    crs: str | int | None = None,
    sliver_m2: float = 50.0,
    guess_fields: bool = False,
) -> tuple[ValidationReport, pd.DataFrame]:
    """Validate the hierarchy a grid file holds by itself (nothing is read from a database).

    ``mapping``, ``level``, ``crs`` and ``guess_fields`` as for :func:`import_grids`.

    Returns
    -------
    (ValidationReport, pandas.DataFrame)
        The report (repaired geometries as warnings) and the rows ``prepare_grids`` rejected.
    """
    frame, reasons = read_geo_file(path, crs=crs)
    accepted, rejected = prepare_grids(
        frame, reasons, mapping=mapping, default_level=level, guess_fields=guess_fields
    )
    report = validate_hierarchy(accepted, sliver_m2=sliver_m2)
    return add_repairs(report, _repaired_on_import(frame, reasons, accepted)), rejected


def export_grids(
    engine_or_frame: Engine | gpd.GeoDataFrame,
    path: str | Path,
    *,
    level: str | None = None,
    at=None,
) -> Path:
    """Write grids to GeoJSON, GeoPackage, Shapefile, GeoParquet, CSV or Excel (WKT column).

    Parameters
    ----------
    engine_or_frame
        A store engine (its grids in force at ``at``, default the current ones) or a grid
        frame (filtered by ``valid_from`` / ``valid_to`` when it has them and ``at`` is given).
    level
        Only this level.

    Returns
    -------
    pathlib.Path
        The file written (``import_grids`` reads it back; Shapefile's ``parent_cod`` included).
    """
    if isinstance(engine_or_frame, gpd.GeoDataFrame):
        grids = engine_or_frame
        if at is not None:
            grids = grids[in_force(grids, at)]
        if level is not None:
            grids = grids[grids["level"] == level]
    else:
        grids = read_grids(engine_or_frame, level=level, at=at)
    cols = [c for c in grids.columns if c not in {"id", "created_by"}]
    out = gpd.GeoDataFrame(grids[cols]).reset_index(drop=True)
    if Path(path).suffix.lower() == ".shp":  # Shapefile field names hold 10 characters
        out = out.rename(columns={c: c[:10] for c in cols if c != out.geometry.name})
    return write_geo_file(out, path)


def _repaired_on_import(
    frame: gpd.GeoDataFrame, reasons: pd.Series, accepted: gpd.GeoDataFrame
) -> pd.DataFrame:
    """Accepted rows whose file geometry was invalid (``prepare_grids`` repaired it)."""
    geoms = frame.geometry.to_numpy()
    bad = (reasons == "").to_numpy() & ~shapely.is_missing(geoms) & ~shapely.is_valid(geoms)
    rows = [i for i in np.flatnonzero(bad) if frame.index[i] in accepted.index]
    labels = frame.index[rows]
    return pd.DataFrame(
        {
            "code": accepted.loc[labels, "code"].to_numpy(),
            "reason": shapely.is_valid_reason(geoms[rows]) if rows else [],
            "geometry": accepted.loc[labels].geometry.to_numpy(),
        }
    )
