"""Preparing rows: a file's rows split into incidents to import and rejected rows with a reason."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from gis.core import coords, settings
from gis.core.errors import InputError
from gis.core.times import parse_times_checked
from gis.incidents.locate import District, crs_hint
from gis.taxonomy import UNCLASSIFIED, map_categories, read_category_aliases

STORE_COLUMNS = [
    "external_id",
    "category_code",
    "source",
    "status",
    "severity",
    "occurred_at",
    "reported_at",
    "closed_at",
    "department",
    "address",
    "description",
    "grid_code",
    "grid_l2",
    "grid_l1",
    "category_raw",
    "coord_crs",
    "duplicate_of",
    "is_repeat_location",
]
TIME_COLUMNS = ("occurred_at", "reported_at", "closed_at")
#: Fields a file column can be mapped to (store columns and the coordinates), in the order the
#: Data page shows them: the fields of ``gis.io.columns.INCIDENT_FIELDS``.
TARGETS = (
    "external_id",
    "category_code",
    "occurred_at",
    "reported_at",
    "closed_at",
    "source",
    "status",
    "severity",
    "department",
    "address",
    "description",
    "lon",
    "lat",
    "wkt",
)
UNKNOWN_POLICIES = ("reject", "unclassified")


@dataclass
class Prepared:
    """Rows split into accepted (store columns, WGS-84 points) and rejected (with ``reason``)."""

    accepted: gpd.GeoDataFrame
    rejected: pd.DataFrame
    unknown_categories: pd.Series
    crs: str
    crs_hint: str | None = None
    crs_check: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def raw_coordinates(
    table: pd.DataFrame, mapping: Mapping[str, str], crs: str | None, name: str
) -> tuple[np.ndarray, np.ndarray, pd.Series, str]:
    """Raw numeric x, y per row and the per-row coordinate problem; the CRS they are in.

    From a vector file's points, the mapped ``lon``/``lat`` columns, or a ``wkt`` column; the
    coordinates are as given (not converted). ``InputError`` when the file has none of these.
    """
    n = len(table)
    reason = pd.Series("", index=table.index, dtype=object)
    if isinstance(table, gpd.GeoDataFrame) and table.geometry.name in table:
        geoms = table.geometry.to_numpy()
        missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
        reason[missing] = "no coordinates"
        not_point = ~missing & (shapely.get_type_id(geoms) != 0)
        reason[not_point] = "geometry is not a point"
        x = np.full(n, np.nan)
        y = np.full(n, np.nan)
        pts = ~missing & ~not_point
        x[pts] = shapely.get_x(geoms[pts])
        y[pts] = shapely.get_y(geoms[pts])
        file_crs = coords.normalize_crs(table.crs.to_string()) if table.crs is not None else None
        return x, y, reason, coords.normalize_crs(crs) if crs else (file_crs or coords.WGS84)
    used = coords.normalize_crs(crs)
    if "lon" in mapping and "lat" in mapping:
        rx, ry = table[mapping["lon"]], table[mapping["lat"]]
        x = pd.to_numeric(rx, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        y = pd.to_numeric(ry, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        empty = (rx.isna() | (rx.astype("string").str.strip() == "")).to_numpy() | (
            ry.isna() | (ry.astype("string").str.strip() == "")
        ).to_numpy()
        reason[empty] = "no coordinates"
        reason[~empty & ~(np.isfinite(x) & np.isfinite(y))] = "coordinates are not numbers"
        return x, y, reason, used
    if "wkt" in mapping:
        text = table[mapping["wkt"]]
        geoms = shapely.from_wkt(text.astype(object).to_numpy(), on_invalid="ignore")
        reason[text.isna().to_numpy()] = "no coordinates"
        reason[(text.notna() & shapely.is_missing(geoms)).to_numpy()] = "unreadable WKT"
        ok = ~shapely.is_missing(geoms)
        reason[ok & (shapely.get_type_id(geoms) != 0)] = "geometry is not a point"
        x = np.where(ok, shapely.get_x(geoms), np.nan)
        y = np.where(ok, shapely.get_y(geoms), np.nan)
        return x, y, reason, used
    raise InputError(
        f"{name}: no coordinate columns found; expected lon/lat (经度/纬度, lon, lng, longitude, "
        "x / lat, latitude, y) or a WKT column; map them with --field lon=COLUMN --field lat=COLUMN"
    )


#: fields whose content makes a row's id when the file has none (how the file writes them,
#: its other columns, their order and the file type do not change the id)
CONTENT_FIELDS = ("source", "status", "severity", "department", "address", "description")


def _content_ids(
    table: pd.DataFrame, mapping: Mapping[str, str], frame: pd.DataFrame, lon, lat
) -> pd.Series:
    """``H`` + 16 hex digits: a hash of what each row says, not of how the file writes it: the
    parsed times (to the second), the category as mapped, the WGS-84 point to 1e-6° (about
    0.1 m) and the mapped text fields with runs of white space as one space."""
    parts = {}
    for col in ("occurred_at", "reported_at"):
        if col in frame:
            parts[col] = frame[col].dt.strftime("%Y-%m-%dT%H:%M:%S").astype("string")
    parts["category"] = (
        frame["category_code"].astype("string").fillna(frame["category_raw"].astype("string"))
    )
    with np.errstate(invalid="ignore"):
        parts["lon"] = pd.Series(np.round(lon, 6), index=table.index).map("{:.6f}".format)
        parts["lat"] = pd.Series(np.round(lat, 6), index=table.index).map("{:.6f}".format)
    for target in CONTENT_FIELDS:
        if target in mapping:
            text = table[mapping[target]].astype("string")
            parts[target] = text.str.replace(r"\s+", " ", regex=True).str.strip()
    plain = pd.DataFrame(parts, index=table.index).astype("string").fillna("")
    h = pd.util.hash_pandas_object(plain, index=False).to_numpy()
    return pd.Series([f"H{v:016x}" for v in h], index=table.index, dtype=object)


def _swapped_hint(x, y, district: District | None, tolerance_m: float) -> str | None:
    """A note when the coordinates read the other way round (lat as lon) fit much better."""
    ok = np.isfinite(x) & np.isfinite(y) & ~((x == 0) & (y == 0))
    if ok.sum() == 0:
        return None
    x, y = x[ok], y[ok]

    def fit(a, b) -> float:
        good = (np.abs(a) <= 180) & (np.abs(b) <= 90)
        if district is not None and good.any():
            inside = np.zeros(len(a), dtype=bool)
            inside[good] = district.within(a[good], b[good], tolerance_m)
            good = inside
        return float(good.mean())

    as_read, swapped = fit(x, y), fit(y, x)
    if swapped >= 0.8 and as_read < 0.5:
        return (
            f"coordinates look swapped: read the other way round {swapped:.0%} of the points fit "
            f"(as read {as_read:.0%}); map the longitude column as lat and the latitude column "
            "as lon (--field lon=COLUMN --field lat=COLUMN)"
        )
    return None


def prepare_incidents(
    table: pd.DataFrame | gpd.GeoDataFrame,
    mapping: Mapping[str, str],
    *,
    crs: str | int | None = None,
    tz: str = settings.DISTRICT_TZ,
    now: datetime | None = None,
    aliases: dict[str, str] | None = None,
    unknown: str = "reject",
    district: District | None = None,
    tolerance_m: float = 500.0,
    existing_ids: np.ndarray | set | frozenset = frozenset(),
    name: str = "file",
    date_order: str | None = None,
    two_digit_years: bool = False,
) -> Prepared:
    """Split a file's rows into incidents to import and rejected rows with their reason.

    Parameters
    ----------
    table
        The file as read by ``gis.io.read_source`` (text columns; a GeoDataFrame for vector files).
    mapping
        ``{field: column}`` (``ColumnMapping`` or a dict), fields from ``TARGETS``.
    crs
        Coordinate system of the coordinates (``coords.normalize_crs`` names or an EPSG code);
        default WGS-84 (or the vector file's own CRS).
    tz
        Zone of times without an offset; all times are stored as wall-clock times in it.
    now
        Times after it are rejected (default: now in ``tz``).
    aliases
        ``{normalised alias: code}`` (``taxonomy.read_category_aliases``).
    unknown
        ``"reject"`` (default): unknown or empty categories are rejected; ``"unclassified"``:
        imported as ``taxonomy.UNCLASSIFIED`` (the file's text kept in ``category_raw``).
    district, tolerance_m
        Points farther than ``tolerance_m`` metres outside the district are rejected (no check
        without a district).
    existing_ids
        External ids already in the store.
    date_order, two_digit_years
        How numeric dates are read (``gis.core.times.parse_times``): ``"dmy"``/``"mdy"`` or
        ``None`` to read the order from the column (refused when ambiguous); two-digit years
        are rejected rows unless ``two_digit_years``.
    """
    if unknown not in UNKNOWN_POLICIES:
        raise InputError(f"unknown={unknown!r}; one of {', '.join(UNKNOWN_POLICIES)}")
    aliases = read_category_aliases() if aliases is None else aliases
    now_ts = pd.Timestamp(now) if now is not None else pd.Timestamp.now(tz).tz_localize(None)
    n = len(table)
    x_raw, y_raw, reason, used_crs = raw_coordinates(table, mapping, crs, name)
    # to WGS-84, then range checks
    finite = np.isfinite(x_raw) & np.isfinite(y_raw)
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    if finite.any():
        lon[finite], lat[finite] = coords.to_wgs84(x_raw[finite], y_raw[finite], used_crs)
    open_ = (reason == "").to_numpy()
    bad_range = open_ & finite & ((np.abs(lon) > 180) | (np.abs(lat) > 90) | ~np.isfinite(lon))
    reason[bad_range] = "coordinates out of range"
    zero = open_ & ~bad_range & (x_raw == 0) & (y_raw == 0)
    reason[zero] = "coordinates are 0,0"

    frame = pd.DataFrame(index=table.index)
    time_reasons: dict[str, pd.Series] = {}
    for target in TIME_COLUMNS:
        if target in mapping:
            try:
                frame[target], time_reasons[target] = parse_times_checked(
                    table[mapping[target]],
                    tz,
                    date_order=date_order,
                    two_digit_years=two_digit_years,
                )
            except InputError as exc:
                raise InputError(f"{name}: {mapping[target]}: {exc}") from None
    if "occurred_at" not in frame:
        if "reported_at" in frame:
            frame["occurred_at"] = frame["reported_at"]
        else:
            raise InputError(
                f"{name}: no time column found (发生时间, 上报时间, occurred_at, Created Date ...); "
                "map one with --field occurred_at=COLUMN"
            )
    open_ = (reason == "").to_numpy()
    for target, why in time_reasons.items():
        refused = open_ & (why != "").to_numpy()
        if target != "occurred_at":  # a value given but refused is not silently dropped
            refused &= frame[target].isna().to_numpy()
        reason[refused] = f"{target}: " + why[refused].astype(str)
        open_ = (reason == "").to_numpy()
    reason[open_ & frame["occurred_at"].isna().to_numpy()] = "missing or unreadable occurred_at"
    open_ = (reason == "").to_numpy()
    reason[open_ & (frame["occurred_at"] > now_ts).to_numpy()] = "occurred_at is in the future"

    if "category_code" in mapping:
        raw_cat = table[mapping["category_code"]].astype("string").str.strip()
    elif unknown == "unclassified":
        raw_cat = pd.Series(pd.NA, index=table.index, dtype="string")
    else:
        raise InputError(
            f"{name}: no category column found (事件类型, 小类, Complaint Type, service_name ...); "
            "map one with --field category_code=COLUMN, or import every row as unclassified "
            "with --unknown unclassified"
        )
    codes, unknown_counts = map_categories(raw_cat, aliases)
    empty_cat = (raw_cat.isna() | (raw_cat == "")).to_numpy()
    missing_code = codes.isna().to_numpy()
    if unknown == "unclassified":
        codes = codes.fillna(UNCLASSIFIED)
    else:
        open_ = (reason == "").to_numpy()
        reason[open_ & empty_cat] = "no category"
        bad = open_ & missing_code & ~empty_cat
        reason[bad] = "unknown category: " + raw_cat[bad].astype(str)
    # text stays in pandas' Arrow-backed string dtype: a million Python str objects per column
    # would cost ~80 MB each; save_frame makes DB-API values one batch at a time
    frame["category_code"] = codes
    frame["category_raw"] = raw_cat

    notes: list[str] = []
    hint, check = None, {}
    if district is not None:
        open_ = (reason == "").to_numpy()
        inside = np.zeros(n, dtype=bool)
        inside[open_] = district.within(lon[open_], lat[open_], tolerance_m)
        reason[open_ & ~inside] = f"outside the district (more than {tolerance_m:g} m)"
        cand = finite & ~bad_range & ~zero
        hint, check = crs_hint(x_raw[cand], y_raw[cand], used_crs, district, tolerance_m)
    else:
        notes.append("no grids in the store: the district check was skipped")

    swap = _swapped_hint(x_raw, y_raw, district, tolerance_m)
    if swap is not None:
        notes.append(swap)
    if "external_id" in mapping:
        ids = table[mapping["external_id"]].astype("string").str.strip()
        ids = ids.mask(ids == "")
        if ids.isna().any():
            derived = _content_ids(table, mapping, frame, lon, lat)
            ids = ids.astype(object).where(ids.notna(), derived)
    else:
        ids = _content_ids(table, mapping, frame, lon, lat)
        notes.append("no id column: external ids are hashes of each row's content")
    frame["external_id"] = pd.Series(ids.array, index=table.index).astype("string")
    open_ = (reason == "").to_numpy()
    dup_file = np.zeros(n, dtype=bool)
    dup_file[open_] = frame["external_id"][open_].duplicated(keep="first").to_numpy()
    reason[dup_file] = "duplicate external_id in the file"
    open_ = (reason == "").to_numpy()
    if len(existing_ids):
        seen = pc.is_in(
            pa.array(frame["external_id"]).cast(pa.large_string()),
            value_set=pa.array(
                np.asarray(list(existing_ids), dtype=object), type=pa.large_string()
            ),
        ).to_numpy(zero_copy_only=False)
        reason[open_ & seen] = "already imported (external_id exists)"

    for target in ("source", "status", "severity", "department", "address", "description"):
        if target in mapping:
            col = table[mapping[target]]
            if isinstance(col.dtype, pd.StringDtype):  # kept compact; missing -> NULL on write
                frame[target] = col
            else:
                frame[target] = col.astype(object).where(col.notna(), None)
    frame["coord_crs"] = used_crs
    ok = (reason == "").to_numpy()
    keep = [c for c in STORE_COLUMNS if c in frame]
    accepted = gpd.GeoDataFrame(
        frame.loc[ok, keep].reset_index(drop=True),
        geometry=shapely.points(lon[ok], lat[ok]),
        crs=4326,
    )
    plain = pd.DataFrame(
        table.drop(columns=[table.geometry.name]) if isinstance(table, gpd.GeoDataFrame) else table
    )
    bad_rows = ~ok
    rejected = plain.loc[bad_rows].copy()
    rejected.insert(0, "row", np.flatnonzero(bad_rows) + 1)
    rejected["reason"] = reason[bad_rows].to_numpy()
    return Prepared(accepted, rejected, unknown_counts, used_crs, hint, check, notes)
