"""``import_incidents``: a file into the store in one transaction, every row accounted for."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy.engine import Engine

from gis.core import coords, settings
from gis.core.errors import InputError
from gis.incidents.links import DUPLICATE_WINDOW, REPEAT_WINDOW, detect_links
from gis.incidents.locate import District, assign_grids_in_force
from gis.incidents.prepare import prepare_incidents
from gis.io import accounting_line, read_source, release_memory, write_table
from gis.io.columns import ColumnMapping, detect_columns, read_mapping_file
from gis.store.batches import record_import_batch
from gis.store.cube import add_to_cube, fishnet_epsg
from gis.store.frames import read_frame, save_frame
from gis.store.incidents import stored_external_ids, update_incident_links
from gis.taxonomy import read_category_aliases
from gis.units import unit_keys


@dataclass
class ImportResult:
    """What an import did.

    ``total = imported + rejected_count`` always. ``rejected`` holds the rejected rows (the
    file's columns plus ``row``, 1-based, and ``reason``); ``reasons`` counts them.
    ``unknown_categories`` counts category texts the alias table does not know (rejected, or
    imported as unclassified). ``duplicates``: imported rows linked to an earlier primary;
    ``repeat_locations``: imported rows at a repeat location. ``crs_hint`` suggests another
    coordinate system when many points fall outside the district as read.
    """

    total: int
    imported: int
    rejected: pd.DataFrame = field(repr=False)
    batch_id: int | None = None
    mapping: ColumnMapping | None = None
    crs: str = coords.WGS84
    crs_hint: str | None = None
    crs_check: dict[str, float] = field(default_factory=dict)
    unknown_categories: pd.Series = field(default_factory=lambda: pd.Series(dtype=int))
    duplicates: int = 0
    repeat_locations: int = 0
    snapped: int = 0
    grid_note: str = ""
    notes: list[str] = field(default_factory=list)
    encoding: str | None = None
    delimiter: str | None = None
    file_name: str | None = None

    @property
    def rejected_count(self) -> int:
        return len(self.rejected)

    @property
    def reasons(self) -> pd.Series:
        """Rejected rows per reason, largest first."""
        if not len(self.rejected):
            return pd.Series(dtype=int)
        return self.rejected["reason"].value_counts()

    def summary_line(self) -> str:
        """``imported + rejected = total``, with the reasons counted."""
        return accounting_line(self.imported, self.rejected, self.total)


ProgressCallback = Callable[[float, str], None]


def _progress(progress: ProgressCallback | None) -> ProgressCallback:
    return progress if progress is not None else (lambda fraction, message: None)


def _malformed_rows(info) -> pd.DataFrame:
    bad = info.malformed
    if bad is None or bad.empty:
        return pd.DataFrame(columns=["row", "reason"])
    out = pd.DataFrame(
        {
            "row": bad["line"].astype("Int64"),
            "text": bad["text"],
            "reason": bad["reason"],
        }
    )
    return out


def _sheet_notes(info) -> list[str]:
    """``sheets read: ...`` (and those skipped) for a workbook."""
    if info.sheets is None:
        return []
    every = info.sheets + (info.skipped_sheets or [])
    return [f"sheets read: {', '.join(info.sheets)} (of {', '.join(every)})"]


def store_context(engine: Engine) -> tuple[np.ndarray, gpd.GeoDataFrame, dict[str, str]]:
    """What an import checks against: stored external ids, every grid version, category aliases.

    Returns
    -------
    (ids, versions, aliases)
        The ``external_id`` of every stored incident; the ``grids`` rows (``code, level,
        parent_code, valid_from, valid_to``, geometry) of every version; ``{alias: code}`` from
        the stored taxonomy (the shipped one when the store has none).
    """
    with engine.connect() as conn:
        ids = stored_external_ids(conn)
        versions = read_frame(
            conn,
            "grids",
            columns=["code", "level", "parent_code", "valid_from", "valid_to", "geom"],
        )
        tax = read_frame(conn, "taxonomy")
    aliases = read_category_aliases(taxonomy=tax if len(tax) else None)
    return ids, versions, aliases


def _nearby_existing(engine, t_min, t_max, window: pd.Timedelta) -> gpd.GeoDataFrame:
    return read_frame(
        engine,
        "incidents",
        columns=[
            "id",
            "external_id",
            "category_code",
            "occurred_at",
            "duplicate_of",
            "is_repeat_location",
            "geom",
        ],
        where="occurred_at >= :a AND occurred_at <= :b",
        params={"a": (t_min - window).to_pydatetime(), "b": (t_max + window).to_pydatetime()},
    )


def import_incidents(
    engine: Engine,
    source,
    *,
    name: str | None = None,
    imported_by: str = "cli",
    mapping: Mapping[str, str | None] | str | Path | None = None,
    columns: Mapping[str, str] | None = None,
    lon: str | None = None,
    lat: str | None = None,
    crs: str | int | None = None,
    tz: str = settings.DISTRICT_TZ,
    unknown: str = "reject",
    tolerance_m: float = 500.0,
    rejected_out: str | Path | None = None,
    now: datetime | None = None,
    progress: ProgressCallback | None = None,
    duplicate_radius_m: float = 50.0,
    duplicate_window: pd.Timedelta = DUPLICATE_WINDOW,
    repeat_radius_m: float = 50.0,
    repeat_window: pd.Timedelta = REPEAT_WINDOW,
    repeat_min_reports: int = 3,
    dry_run: bool = False,
    sheet: str | None = None,
    date_order: str | None = None,
    two_digit_years: bool = False,
) -> ImportResult:
    """Import an incident file in one transaction, every row accounted for.

    Parameters
    ----------
    source
        Path, bytes or file-like (``name`` gives the type for bytes): CSV (any delimiter;
        UTF-8, UTF-8 BOM, GBK/GB18030), Excel, GeoJSON, GeoPackage, Shapefile.
    mapping, columns, lon, lat
        Overrides of the detected columns: a dict ``{field: column}`` or a mapping file
        (YAML/JSON/CSV); ``columns`` and ``lon``/``lat`` are the CLI's ``--field`` and
        ``--lon/--lat``. Fields: ``TARGETS``.
    crs
        Coordinate system of the file's coordinates (``wgs84``, ``cgcs2000``, ``gcj02``,
        ``bd09``, EPSG code). Stored converted to WGS-84, the system in ``coord_crs``.
    tz
        Zone of times without an offset (default Asia/Shanghai).
    unknown
        ``"reject"`` or ``"unclassified"`` (see ``prepare_incidents``).
    tolerance_m
        Points farther outside the district (union of level-1 grids) are rejected.
    rejected_out
        CSV for the rejected rows (with ``row`` and ``reason``), UTF-8 with BOM (opens in Excel).
    progress
        ``progress(fraction 0-1, message)``, called between steps and during the write. An
        exception it raises aborts the import and leaves the database as it was.
    duplicate_radius_m, duplicate_window, repeat_radius_m, repeat_window, repeat_min_reports
        See ``link_duplicates`` and ``flag_repeat_locations``.
    sheet
        Excel: read only this sheet (default: every sheet with location columns; the sheets
        read are named in ``notes``).
    date_order, two_digit_years
        How numeric dates are read (see ``prepare_incidents``).
    dry_run
        Check every row and return the result (counts, reasons, CRS hint, links) without
        writing anything: no batch, no incidents, no rejected file (``batch_id`` stays None).

    Notes
    -----
    Memory: text columns stay in pandas' Arrow-backed string dtype from the read to the write
    (Python ``str`` objects are made only for one ``save_frame`` batch at a time), duplicate
    pairs are folded into a spanning forest as they are found, and freed Arrow/C-heap memory is
    handed back between steps (``gis.io.release_memory``). A 1,000,000-row CSV peaks at about
    1.1 GB RSS (``benchmarks/bench_intake.py``).
    """
    report = _progress(progress)
    report(0.0, "reading the file")
    table, info = read_source(source, name=name, sheet=sheet)
    release_memory()
    report(0.15, f"read {len(table):,} rows")
    detected = detect_columns(table.columns, table.head(500))
    overrides: dict[str, str | None] = {}
    if isinstance(mapping, str | Path):
        overrides.update(read_mapping_file(mapping))
    elif mapping:
        overrides.update(mapping)
    overrides.update(columns or {})
    if lon:
        overrides["lon"] = lon
    if lat:
        overrides["lat"] = lat
    cmap = detected.with_overrides(overrides, list(map(str, table.columns)))
    existing_ids, versions, aliases = store_context(engine)
    current = versions[versions["valid_to"].isna()] if len(versions) else versions
    district = District.from_grids(current) if len(current) else None
    report(0.2, "checking rows")
    prep = prepare_incidents(
        table,
        cmap,
        crs=crs,
        tz=tz,
        now=now,
        aliases=aliases,
        unknown=unknown,
        district=district,
        tolerance_m=tolerance_m,
        existing_ids=existing_ids,
        name=info.name,
        date_order=date_order,
        two_digit_years=two_digit_years,
    )
    malformed = _malformed_rows(info)
    rejected = (
        pd.concat([prep.rejected, malformed], ignore_index=True)
        if len(malformed)
        else prep.rejected
    )
    accepted = prep.accepted
    del table
    release_memory()
    report(0.45, "assigning grids")
    lon_a, lat_a = (
        shapely.get_x(accepted.geometry.to_numpy()),
        shapely.get_y(accepted.geometry.to_numpy()),
    )
    grids, grid_note = assign_grids_in_force(lon_a, lat_a, accepted["occurred_at"], versions)
    for col in ("grid_code", "grid_l2", "grid_l1"):
        accepted[col] = grids[col].array
    snapped = int(grids["snapped"].sum())
    del grids
    release_memory()
    report(0.6, "linking duplicates and repeat locations")
    existing = (
        _nearby_existing(
            engine,
            accepted["occurred_at"].min(),
            accepted["occurred_at"].max(),
            max(repeat_window, duplicate_window),
        )
        if len(accepted) and len(existing_ids)
        else None
    )
    if existing is None:
        existing = gpd.GeoDataFrame(
            {
                "id": [],
                "external_id": [],
                "category_code": [],
                "occurred_at": [],
                "duplicate_of": [],
                "is_repeat_location": [],
            },
            geometry=[],
            crs=4326,
        )
    links, changed = (
        detect_links(
            accepted,
            existing,
            district,
            duplicate_radius_m=duplicate_radius_m,
            duplicate_window=duplicate_window,
            repeat_radius_m=repeat_radius_m,
            repeat_window=repeat_window,
            repeat_min_reports=repeat_min_reports,
        )
        if len(accepted)
        else (pd.DataFrame({"duplicate_of": [], "is_repeat_location": []}), pd.DataFrame())
    )
    accepted["duplicate_of"] = links["duplicate_of"].array
    accepted["is_repeat_location"] = links["is_repeat_location"].to_numpy(dtype=bool)
    release_memory()
    total = len(accepted) + len(rejected)
    result = ImportResult(
        total=total,
        imported=len(accepted),
        rejected=rejected,
        mapping=cmap,
        crs=prep.crs,
        crs_hint=prep.crs_hint,
        crs_check=prep.crs_check,
        unknown_categories=prep.unknown_categories,
        duplicates=int(pd.Series(links["duplicate_of"]).notna().sum()),
        repeat_locations=int(links["is_repeat_location"].sum()),
        snapped=snapped,
        grid_note=grid_note,
        notes=prep.notes + _sheet_notes(info) + info.notes,
        encoding=info.encoding,
        delimiter=info.delimiter,
        file_name=info.name,
    )
    if dry_run:
        report(1.0, "checked; nothing written")
        return result
    report(0.7, "writing")
    details = {
        "reasons": result.reasons.to_dict(),
        "crs": prep.crs,
        "crs_hint": prep.crs_hint,
        "mapping": dict(cmap),
        "unknown_categories": {str(k): int(v) for k, v in prep.unknown_categories.head(50).items()},
        "duplicates": result.duplicates,
        "repeat_locations": result.repeat_locations,
    }
    with engine.begin() as conn:
        # the rejected rows first, inside the transaction: a target that cannot be written
        # stops the import with nothing imported, rather than rows imported and reasons lost
        if rejected_out is not None and len(rejected):
            try:
                write_table(rejected, rejected_out)
            except OSError as exc:
                raise InputError(
                    f"{rejected_out}: cannot write the rejected rows ({exc.strerror or exc}); "
                    "nothing was imported (choose another --rejected-out)"
                ) from None
        result.batch_id = record_import_batch(
            conn,
            kind="incidents",
            file_name=info.name,
            imported_by=imported_by,
            total=result.total,
            imported=result.imported,
            rejected=result.rejected_count,
            details=details,
        )
        update_incident_links(conn, changed)
        accepted = accepted.assign(batch_id=result.batch_id)
        # the unit keys every page aggregates on, then the cube, in the same transaction
        for col, keys in unit_keys(lon_a, lat_a, fishnet_epsg(conn, lon_a, lat_a)).items():
            accepted[col] = keys
        save_frame(
            conn,
            "incidents",
            accepted,
            progress=lambda done, n: report(0.7 + 0.29 * done / max(n, 1), f"wrote {done:,} rows"),
        )
        add_to_cube(conn, accepted)
    report(1.0, "done")
    return result
