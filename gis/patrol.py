"""Patrol coverage from GPS tracks: reading, cleaning, interpolation, presence, dosage and gaps.

Conventions
-----------
- Fix frames are GeoDataFrames in EPSG:4326 (lon/lat) with ``staff_code`` (or a device id), ``t``
  (``datetime64[ns]``, naive Asia/Shanghai wall-clock, like the store) and point ``geometry``;
  optional ``track_code`` (a track of the source file). Cleaning adds an integer ``track_id``.
- Distances and speeds are computed in a local metric CRS (``gis.core.crs.local_metric_crs``: CGCS2000
  3-degree Gauss-Kruger in China, UTM elsewhere); all ``*_m`` are metres, ``*_s`` seconds.
- The GPS accuracy buffer is ``GPS_ACCURACY_M`` = 20 m: the tolerance for "outside the district"
  and the buffer of street coverage. Presence in polygon units counts the interpolated position
  itself (no buffer), so a walk along a shared grid edge counts for one grid only.
- Between fixes the path is a straight line (``interpolate``): sparse fixes still count as
  presence along the way. Snapping to the street network is NOT done (a stretch goal).

Definitions (see the functions for details)
-------------------------------------------
- *sample*: a position with a duration ``w_s`` it stands for (the time until the next sample of
  the same track; 0 for a track's last fix). ``dwell_s`` of a unit is the sum of ``w_s`` of its
  samples.
- *visit*: a maximal run of one staff member's samples in one unit in which the time away between
  two samples in the unit (from the end of one sample to the start of the next) is at most
  ``visit_gap_s`` (default 60 s). Leaving for longer, or a new track, starts a new visit.
- *stop* (dosage): a visit with ``dwell_s >= stop_min_s`` (600 s, Koper's 10-15 minutes).
- *hotspot-hour met*: see ``dosage``.
"""

from __future__ import annotations

import csv
import io
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from gis.core.crs import local_metric_crs
from gis.core.errors import InputError

try:  # GCJ-02 / BD-09 (issue 2); without it only WGS-84 / EPSG input is accepted
    from gis.core.coords import to_wgs84 as _to_wgs84
except ImportError:  # pragma: no cover - gis.core.coords is part of the package
    _to_wgs84 = None

LOCAL_TZ = "Asia/Shanghai"
#: GPS accuracy buffer (m): tolerance outside the district and street-coverage buffer.
GPS_ACCURACY_M = 20.0
#: Speed limits (m/s) for "impossible jump": cycling (default) and walking.
CYCLE_MAX_SPEED_MPS = 7.0
WALK_MAX_SPEED_MPS = 2.5
#: Default shifts (name -> (start, end) local clock; end <= start crosses midnight).
DEFAULT_SHIFTS: dict[str, tuple[str, str]] = {
    "day": ("09:00", "19:00"),
    "night": ("19:00", "09:00"),
}

DROP_REASONS = (
    "no coordinates",
    "no time",
    "no staff id",
    "duplicate",
    "outside district",
    "impossible jump",
    "speed above limit",
)

LON_NAMES = ("lon", "lng", "long", "longitude", "x", "经度", "gps_lon", "gcj_lon")
LAT_NAMES = ("lat", "latitude", "y", "纬度", "gps_lat", "gcj_lat")
TIME_NAMES = (
    "t",
    "time",
    "datetime",
    "timestamp",
    "date_time",
    "gps_time",
    "fix_time",
    "recorded_at",
    "时间",
    "定位时间",
    "采集时间",
    "上报时间",
)
ID_NAMES = (
    "staff_code",
    "staff",
    "staff_id",
    "person",
    "uid",
    "user",
    "user_id",
    "device",
    "device_id",
    "imei",
    "tracker",
    "id",
    "人员",
    "人员编号",
    "工号",
    "姓名",
    "设备",
    "设备号",
)
TRACK_NAMES = ("track_code", "track", "track_id", "trajectory_id", "轨迹", "轨迹编号")
_NS = 10**9
#: a time of day followed by a UTC offset (Z, +08, +08:00, +0800)
_OFFSET = r"\d:\d\d(?::\d\d(?:\.\d+)?)?\s*(?:Z|[+-]\d\d(?::?\d\d)?)$"


# --------------------------------------------------------------------------------------------
# Reading tracks
# --------------------------------------------------------------------------------------------
def _find(columns: Iterable, names: Sequence[str]) -> str | None:
    lower = {str(c).strip().lower(): c for c in columns}
    for name in names:
        if name in lower:
            return lower[name]
    return None


def parse_times(values: pd.Series, tz: str = LOCAL_TZ) -> pd.Series:
    """Times as naive Asia/Shanghai wall-clock ``datetime64[ns]`` (NaT where unreadable).

    Text with an offset (``Z``, ``+08:00``) is converted; text without one is taken in ``tz``.
    Numbers are Unix epoch seconds (or milliseconds when above 1e11).
    """
    values = pd.Series(values).reset_index(drop=True)
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        stamps = values
        if getattr(values.dt, "tz", None) is None:
            stamps = values.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
        return stamps.dt.tz_convert(LOCAL_TZ).dt.tz_localize(None).astype("datetime64[ns]")
    text = values.astype(object).where(values.notna(), None)
    number = pd.to_numeric(text, errors="coerce")
    if len(text) and number.notna().mean() > 0.9:
        unit = "ms" if number.abs().median() > 1e11 else "s"
        stamps = pd.to_datetime(number, unit=unit, utc=True, errors="coerce")
        return stamps.dt.tz_convert(LOCAL_TZ).dt.tz_localize(None).astype("datetime64[ns]")
    s = text.astype(str).str.strip()
    has_offset = s.str.contains(_OFFSET, regex=True, na=False) & text.notna()
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    if has_offset.any():
        aware = pd.to_datetime(s[has_offset], utc=True, errors="coerce", format="mixed")
        out[has_offset] = (
            aware.dt.tz_convert(LOCAL_TZ).dt.tz_localize(None).astype("datetime64[ns]")
        )
    naive = ~has_offset & text.notna()
    if naive.any():
        try:
            parsed = pd.to_datetime(s[naive], errors="coerce")
        except (ValueError, TypeError):
            parsed = pd.Series(pd.NaT, index=s[naive].index, dtype="datetime64[ns]")
        retry = parsed.isna()
        if retry.any():  # other formats than the first row's: parse those one by one
            again = pd.to_datetime(s[naive][retry], errors="coerce", format="mixed")
            parsed = parsed.astype("datetime64[ns]")
            parsed[retry] = again.astype("datetime64[ns]")
        if getattr(parsed.dt, "tz", None) is not None:
            parsed = parsed.dt.tz_convert(LOCAL_TZ).dt.tz_localize(None)
        elif tz != LOCAL_TZ:
            parsed = (
                parsed.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
                .dt.tz_convert(LOCAL_TZ)
                .dt.tz_localize(None)
            )
        out[naive] = parsed.astype("datetime64[ns]")
    return out


def _convert_xy(
    x: np.ndarray, y: np.ndarray, crs: str | int | None
) -> tuple[np.ndarray, np.ndarray]:
    if _to_wgs84 is not None:
        return _to_wgs84(x, y, crs)
    key = str(crs or "wgs84").lower().replace("-", "")
    if key in ("wgs84", "epsg:4326", "4326", "cgcs2000", "epsg:4490", "4490"):  # pragma: no cover
        return np.asarray(x, float), np.asarray(y, float)
    raise InputError(f"coordinate system {crs!r} needs gis.core.coords (only WGS-84 without it)")


def _frame(
    staff: Iterable,
    t: pd.Series,
    x: np.ndarray,
    y: np.ndarray,
    *,
    crs: str | int | None,
    track: Iterable | None = None,
    extra: pd.DataFrame | None = None,
) -> gpd.GeoDataFrame:
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.any():
        gx, gy = _convert_xy(x[ok], y[ok], crs)
        x, y = x.copy(), y.copy()
        x[ok], y[ok] = gx, gy
    geoms = np.full(len(x), None, dtype=object)
    geoms[ok] = shapely.points(x[ok], y[ok])
    staff_s = pd.Series(list(staff) if not isinstance(staff, pd.Series) else staff.to_numpy())
    staff_s = staff_s.astype(object).where(staff_s.notna(), None)
    staff_s = staff_s.map(lambda v: None if v is None else str(v).strip() or None)
    data = {"staff_code": staff_s.to_numpy(dtype=object)}
    if track is not None:
        tr = pd.Series(list(track) if not isinstance(track, pd.Series) else track.to_numpy())
        data["track_code"] = (
            tr.astype(object)
            .where(tr.notna(), None)
            .map(lambda v: None if v is None else str(v))
            .to_numpy(dtype=object)
        )
    data["t"] = pd.Series(t).reset_index(drop=True).astype("datetime64[ns]").to_numpy()
    frame = pd.DataFrame(data)
    if extra is not None:
        for col in extra.columns:
            if col not in frame:
                frame[col] = extra[col].to_numpy()
    return gpd.GeoDataFrame(frame, geometry=list(geoms), crs=4326)


def _read_csv(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    if suffix == ".gz":
        import gzip

        raw = gzip.decompress(path.read_bytes())
    elif suffix == ".bz2":
        import bz2

        raw = bz2.decompress(path.read_bytes())
    elif suffix == ".xz":
        import lzma

        raw = lzma.decompress(path.read_bytes())
    else:
        raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise InputError(f"{path}: text is neither UTF-8 nor GB18030")
    head = text[:4096]
    try:
        sep = csv.Sniffer().sniff(head.splitlines()[0] if head else ",", ",;\t|").delimiter
    except csv.Error:
        sep = ","
    try:
        return pd.read_csv(
            io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, na_values=[""]
        )
    except Exception as exc:
        raise InputError(f"{path}: cannot read as a table ({exc})") from exc


def _read_plt(path: Path) -> pd.DataFrame:
    """A GeoLife ``.plt``: 6 header lines, then lat, lon, 0, altitude (ft), days, date, time."""
    try:
        table = pd.read_csv(
            path,
            skiprows=6,
            header=None,
            names=["lat", "lon", "zero", "alt_ft", "days", "date", "time"],
            dtype={"date": str, "time": str},
        )
    except Exception as exc:
        raise InputError(f"{path}: cannot read as a GeoLife .plt file ({exc})") from exc
    return table


def _read_gpx(path: Path) -> pd.DataFrame:
    """Track points (``trkpt``) and route points (``rtept``) of a GPX 1.0/1.1 file."""
    rows: list[tuple] = []
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise InputError(f"{path}: not a readable GPX file ({exc})") from exc

    def local(tag: str) -> str:
        return tag.rsplit("}", 1)[-1]

    def child_text(elem: ET.Element, name: str) -> str | None:
        for c in elem:
            if local(c.tag) == name:
                return (c.text or "").strip() or None
        return None

    for ti, trk in enumerate(e for e in root if local(e.tag) in ("trk", "rte")):
        name = child_text(trk, "name") or f"{path.stem}"
        segs = [s for s in trk if local(s.tag) == "trkseg"] or [trk]
        for si, seg in enumerate(segs):
            for pt in seg:
                if local(pt.tag) not in ("trkpt", "rtept"):
                    continue
                rows.append(
                    (
                        name,
                        f"{name}#{ti}.{si}",
                        pt.get("lon"),
                        pt.get("lat"),
                        child_text(pt, "time"),
                    )
                )
    return pd.DataFrame(rows, columns=["staff_code", "track_code", "lon", "lat", "time"])


def read_tracks(
    path: str | Path,
    *,
    crs: str | int | None = "wgs84",
    tz: str | None = None,
    mapping: Mapping[str, str] | None = None,
    staff_code: str | None = None,
) -> gpd.GeoDataFrame:
    """Read GPS fixes from CSV, GPX, GeoJSON/GeoPackage or GeoLife ``.plt``.

    Parameters
    ----------
    path
        ``.csv``/``.txt``/``.tsv`` (optionally ``.gz``): lon/lat/time/id columns found among
        common names (``lon, lng, longitude, 经度``; ``lat, 纬度``; ``time, datetime, timestamp,
        时间``; ``staff_code, uid, device_id, tracker, 人员, 工号``) -- this includes the
        scikit-mobility GeoLife sample (``lat, lng, datetime, uid``). ``.gpx`` (xml.etree; the
        track name is the id), ``.geojson``/``.gpkg`` (points, via ``gis.io.read_geo_file``),
        ``.plt`` (GeoLife; the id is the user folder above ``Trajectory`` or the file stem).
    crs
        Coordinate system of the file's coordinates: ``"wgs84"`` (also CGCS2000), ``"gcj02"``,
        ``"bd09"`` or an EPSG code; converted to WGS-84 with ``gis.core.coords.to_wgs84``.
    tz
        Time zone of times written without an offset. Default: UTC for GPX and GeoLife (both
        record GMT), Asia/Shanghai otherwise. Output times are naive Asia/Shanghai.
    mapping
        ``{"lon"|"lat"|"t"|"staff_code"|"track_code": file column}`` to override detection.
    staff_code
        Id for every fix when the file has no id column (default: the file stem).

    Returns
    -------
    geopandas.GeoDataFrame
        ``staff_code, [track_code], t, geometry`` (EPSG:4326), one row per row of the file in
        file order. Rows with unreadable coordinates (geometry None) or time (NaT) are kept:
        ``clean_fixes`` drops and counts them.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    mapping = dict(mapping or {})
    suffixes = [s.lower() for s in path.suffixes]
    suffix = suffixes[-1] if suffixes else ""
    if suffix in (".gz", ".bz2", ".zip", ".xz") and len(suffixes) > 1:
        suffix = suffixes[-2]
    default_id = staff_code or path.name.split(".")[0]

    if suffix == ".plt":
        table = _read_plt(path)
        parent = path.parent
        uid = parent.parent.name if parent.name.lower() == "trajectory" else default_id
        t = parse_times(table["date"].str.strip() + " " + table["time"].str.strip(), tz or "UTC")
        return _frame(
            [staff_code or uid] * len(table),
            t,
            pd.to_numeric(table["lon"], errors="coerce").to_numpy(),
            pd.to_numeric(table["lat"], errors="coerce").to_numpy(),
            crs=crs,
            track=[f"{staff_code or uid}/{path.stem}"] * len(table),
        )
    if suffix == ".gpx":
        table = _read_gpx(path)
        if staff_code:
            table["staff_code"] = staff_code
        return _frame(
            table["staff_code"],
            parse_times(table["time"], tz or "UTC"),
            pd.to_numeric(table["lon"], errors="coerce").to_numpy(),
            pd.to_numeric(table["lat"], errors="coerce").to_numpy(),
            crs=crs,
            track=table["track_code"],
        )
    if suffix in (".geojson", ".json", ".gpkg", ".shp", ".fgb", ".parquet"):
        from gis.io import read_geo_file

        frame, _reason = read_geo_file(path)
        geoms = frame.geometry.to_numpy()
        present = ~shapely.is_missing(geoms)
        if present.any() and not (shapely.get_type_id(geoms[present]) == 0).all():
            raise InputError(f"{path}: fixes must be points")
        x, y = shapely.get_x(geoms), shapely.get_y(geoms)
        if _is_chinese_web_crs(crs):
            pass  # the file says EPSG:4326 but the numbers are GCJ-02/BD-09: convert below
        else:
            crs = "wgs84"  # read_geo_file already reprojected to EPSG:4326
        columns = frame.drop(columns=frame.geometry.name).columns
        t_col = mapping.get("t") or _find(columns, TIME_NAMES)
        if t_col is None:
            raise InputError(f"{path}: no time field; name it with mapping={{'t': ...}}")
        id_col = mapping.get("staff_code") or _find(columns, ID_NAMES)
        tr_col = mapping.get("track_code") or _find(columns, TRACK_NAMES)
        ids = frame[id_col] if id_col else [default_id] * len(frame)
        return _frame(
            ids,
            parse_times(frame[t_col], tz or LOCAL_TZ),
            x,
            y,
            crs=crs,
            track=frame[tr_col] if tr_col else None,
        )
    if suffix in (".csv", ".txt", ".tsv"):
        table = _read_csv(path)
        cols = table.columns
        lon = mapping.get("lon") or _find(cols, LON_NAMES)
        lat = mapping.get("lat") or _find(cols, LAT_NAMES)
        t_col = mapping.get("t") or _find(cols, TIME_NAMES)
        missing = [n for n, c in (("lon", lon), ("lat", lat), ("t", t_col)) if c is None]
        if missing:
            raise InputError(
                f"{path}: no {'/'.join(missing)} column found among {list(cols)[:12]}; "
                "name them with mapping={'lon': ..., 'lat': ..., 't': ...}"
            )
        id_col = mapping.get("staff_code") or _find(cols, ID_NAMES)
        tr_col = mapping.get("track_code") or _find(cols, TRACK_NAMES)
        if tr_col == id_col:
            tr_col = None
        skmob = {str(c).lower() for c in cols} == {"lat", "lng", "datetime", "uid"}
        default_tz = "UTC" if skmob else LOCAL_TZ  # the GeoLife sample records GMT
        return _frame(
            table[id_col] if id_col else [default_id] * len(table),
            parse_times(table[t_col], tz or default_tz),
            pd.to_numeric(table[lon], errors="coerce").to_numpy(),
            pd.to_numeric(table[lat], errors="coerce").to_numpy(),
            crs=crs,
            track=table[tr_col] if tr_col else None,
        )
    raise InputError(
        f"{path}: unsupported track file {suffix!r}; use CSV, GPX, GeoJSON, GeoPackage or .plt"
    )


def _is_chinese_web_crs(crs: str | int | None) -> bool:
    key = str(crs or "").strip().lower().replace("-", "").replace("_", "")
    return key in ("gcj02", "gcj", "mars", "amap", "gaode", "bd09", "bd09ll", "baidu")


# --------------------------------------------------------------------------------------------
# Metric coordinates
# --------------------------------------------------------------------------------------------
def _metric_transformer(lon: np.ndarray, lat: np.ndarray) -> pyproj.Transformer:
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        lon0, lat0 = 116.4, 39.9
    else:
        lon0, lat0 = float(np.median(lon[ok])), float(np.median(lat[ok]))
    crs = local_metric_crs(gpd.GeoSeries([shapely.Point(lon0, lat0)], crs=4326))
    return pyproj.Transformer.from_crs(4326, crs, always_xy=True)


def _metric_xy(lon: np.ndarray, lat: np.ndarray, tr: pyproj.Transformer | None = None):
    tr = tr or _metric_transformer(lon, lat)
    x, y = tr.transform(lon, lat)
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64), tr


def _t_ns(t) -> np.ndarray:
    return pd.Series(t).astype("datetime64[ns]").to_numpy().view(np.int64)


# --------------------------------------------------------------------------------------------
# Cleaning
# --------------------------------------------------------------------------------------------
@dataclass
class CleanResult:
    """Kept fixes (sorted by staff and time, with ``track_id``), dropped fixes with ``reason``,
    and counts: ``summary["kept"] + summary["dropped"] == summary["total"]``."""

    fixes: gpd.GeoDataFrame
    dropped: pd.DataFrame
    summary: dict = field(default_factory=dict)

    def summary_line(self) -> str:
        """``N kept + M dropped = T total (reason: count; ...); K tracks``."""
        s = self.summary
        detail = "; ".join(f"{r}: {n}" for r, n in s["reasons"].items() if n)
        line = f"{s['kept']} kept + {s['dropped']} dropped = {s['total']} total"
        line += f" ({detail})" if detail else ""
        return (
            f"{line}; {s['tracks']} tracks ({s['splits_gap']} split at gaps, "
            f"{s['splits_jump']} at jumps)"
        )


def _district_geometry(district) -> shapely.Geometry:
    if isinstance(district, gpd.GeoDataFrame | gpd.GeoSeries):
        geo = district.to_crs(4326) if district.crs is not None else district
        return shapely.union_all(geo.geometry.to_numpy() if hasattr(geo, "geometry") else geo)
    return district


def clean_fixes(
    fixes: gpd.GeoDataFrame,
    *,
    max_speed_mps: float = CYCLE_MAX_SPEED_MPS,
    district=None,
    tolerance_m: float = GPS_ACCURACY_M,
    split_gap_s: float = 600.0,
    noise_m: float = 10.0,
) -> CleanResult:
    """Drop bad fixes, each with its reason, and split tracks at gaps and jumps.

    Reasons, in this order of precedence (a fix gets the first that applies):

    - ``no coordinates`` / ``no time`` / ``no staff id``: unreadable or missing values.
    - ``duplicate``: same staff and same timestamp as an earlier fix (the first in file order is
      kept).
    - ``outside district``: farther than ``tolerance_m`` outside ``district`` (a polygon or a
      GeoDataFrame/GeoSeries in EPSG:4326; skipped when None).
    - ``impossible jump``: a spike. With links to the neighbouring fixes of the same track, a
      link is *fast* when ``(distance - noise_m) / interval > max_speed_mps`` (distances in the
      local metric CRS; ``noise_m`` lets a standing phone's jitter at 1 s sampling pass). A fix
      B between A and C is a spike when A->B and B->C are fast but A->C is not: B is dropped,
      A and C are kept. Runs of 2 or 3 fixes off the path (fast in, slow inside, fast out, the
      bridge plausible) are spikes too. Repeated until none is left (vectorised per pass).
    - ``speed above limit``: after spikes are gone, a fix whose every link is fast (e.g. moving
      in a vehicle faster than the limit: not patrol).

    A remaining single fast link (the fixes on both sides are consistent with their own
    neighbours) splits the track there, as does a gap longer than ``split_gap_s`` between
    consecutive fixes, a new ``track_code`` or a new staff member. No segment is drawn across a
    split.

    Parameters
    ----------
    max_speed_mps
        7.0 m/s (cycling, the default); use ``WALK_MAX_SPEED_MPS`` (2.5 m/s) for foot patrols.

    Returns
    -------
    CleanResult
        ``fixes``: kept rows (original index) sorted by staff, time, with ``track_id`` (int,
        0..n-1); ``dropped``: the dropped rows (original index, no geometry, ``lon, lat`` and
        ``reason``); ``summary``: ``total, kept, dropped, reasons{reason: n}, tracks,
        splits_gap, splits_jump``.
    """
    n = len(fixes)
    geoms = fixes.geometry.to_numpy()
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    lon[~empty] = shapely.get_x(geoms[~empty])
    lat[~empty] = shapely.get_y(geoms[~empty])
    t = _t_ns(fixes["t"].reset_index(drop=True))
    nat = t == np.iinfo(np.int64).min
    staff = fixes["staff_code"].to_numpy(dtype=object)
    staff_missing = pd.isna(staff) | (pd.Series(staff).astype(str).str.strip() == "").to_numpy()

    reason = np.full(n, "", dtype=object)
    bad_xy = ~(np.isfinite(lon) & np.isfinite(lat)) | (np.abs(lon) > 180) | (np.abs(lat) > 90)
    bad_xy |= (lon == 0) & (lat == 0)
    reason[bad_xy] = "no coordinates"
    reason[(reason == "") & nat] = "no time"
    reason[(reason == "") & staff_missing] = "no staff id"

    staff_code, staff_uniques = pd.factorize(pd.Series(staff).astype(object), sort=True)
    has_track = "track_code" in fixes
    if has_track:
        track_code = pd.factorize(fixes["track_code"].astype(object), sort=True)[0]
    else:
        track_code = np.zeros(n, dtype=np.int64)

    # sorted order of the valid fixes: staff, time, file order
    valid = np.flatnonzero(reason == "")
    order = valid[np.lexsort((valid, t[valid], staff_code[valid]))]
    dup = np.zeros(len(order), dtype=bool)
    if len(order) > 1:
        dup[1:] = (staff_code[order[1:]] == staff_code[order[:-1]]) & (
            t[order[1:]] == t[order[:-1]]
        )
    reason[order[dup]] = "duplicate"
    order = order[~dup]

    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    tr = None
    if len(order):
        x[order], y[order], tr = _metric_xy(lon[order], lat[order])
    if district is not None and len(order):
        geom = _district_geometry(district)
        gx, gy = tr.transform(*shapely.get_coordinates(geom).T)
        metric = shapely.set_coordinates(geom, np.column_stack([gx, gy]))
        area = shapely.buffer(metric, tolerance_m) if tolerance_m > 0 else metric
        shapely.prepare(area)
        inside = shapely.contains_xy(area, x[order], y[order])
        reason[order[~inside]] = "outside district"
        order = order[inside]

    ts = t.astype(np.float64) / _NS

    def links(o: np.ndarray):
        """linked[k], fast[k] for the link o[k] -> o[k+1]."""
        same = (staff_code[o[1:]] == staff_code[o[:-1]]) & (track_code[o[1:]] == track_code[o[:-1]])
        dt = ts[o[1:]] - ts[o[:-1]]
        linked = same & (dt <= split_gap_s)
        d = np.hypot(x[o[1:]] - x[o[:-1]], y[o[1:]] - y[o[:-1]])
        fast = linked & ((d - noise_m) > max_speed_mps * dt)
        return linked, fast

    def plausible(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        dt = ts[b] - ts[a]
        d = np.hypot(x[b] - x[a], y[b] - y[a])
        same = (staff_code[a] == staff_code[b]) & (track_code[a] == track_code[b])
        return same & (dt <= split_gap_s) & ((d - noise_m) <= max_speed_mps * dt)

    for _ in range(50):  # each pass is vectorised; real data needs a handful
        m = len(order)
        if m < 3:
            break
        linked, fast = links(order)
        drop = np.zeros(m, dtype=bool)
        for k in (1, 2, 3):  # runs of k fixes off the path: order[i : i + k]
            if m < k + 2:
                break
            i = np.arange(1, m - k)
            cond = fast[i - 1] & fast[i + k - 1]
            for j in range(k - 1):
                cond &= linked[i + j] & ~fast[i + j]
            cond &= plausible(order[i - 1], order[i + k])
            starts = i[cond]
            if k == 1:  # of two adjacent single spikes drop the first; the next pass decides
                keep_first = np.ones(len(starts), dtype=bool)
                keep_first[1:] = starts[1:] != starts[:-1] + 1
                starts = starts[keep_first]
            for j in range(k):
                drop[starts + j] = True
            if drop.any():
                break
        if not drop.any():
            break
        reason[order[drop]] = "impossible jump"
        order = order[~drop]

    m = len(order)
    if m >= 2:
        linked, fast = links(order)
        in_link = np.concatenate([[False], linked])
        in_fast = np.concatenate([[False], fast])
        out_link = np.concatenate([linked, [False]])
        out_fast = np.concatenate([fast, [False]])
        too_fast = (in_link | out_link) & (~in_link | in_fast) & (~out_link | out_fast)
        reason[order[too_fast]] = "speed above limit"
        order = order[~too_fast]

    # track ids after splitting
    m = len(order)
    new_track = np.ones(m, dtype=bool)
    splits_gap = splits_jump = 0
    if m >= 2:
        same = (staff_code[order[1:]] == staff_code[order[:-1]]) & (
            track_code[order[1:]] == track_code[order[:-1]]
        )
        linked, fast = links(order)
        gap = same & ~linked
        jump = linked & fast
        splits_gap, splits_jump = int(gap.sum()), int(jump.sum())
        new_track[1:] = ~same | gap | jump
    track_id = np.cumsum(new_track) - 1

    kept = fixes.iloc[order].copy()
    kept["track_id"] = track_id.astype(np.int64)
    kept["t"] = kept["t"].astype("datetime64[ns]")
    cols = ["staff_code"] + (["track_code"] if has_track else []) + ["track_id", "t"]
    cols += [c for c in kept.columns if c not in cols and c != kept.geometry.name]
    kept = kept[cols + [kept.geometry.name]]
    bad = reason != ""
    dropped = pd.DataFrame(fixes.loc[bad].drop(columns=fixes.geometry.name))
    dropped["lon"] = lon[bad]
    dropped["lat"] = lat[bad]
    dropped["reason"] = reason[bad]
    counts = pd.Series(reason[bad]).value_counts()
    summary = {
        "total": n,
        "kept": len(kept),
        "dropped": int(bad.sum()),
        "reasons": {r: int(counts.get(r, 0)) for r in DROP_REASONS},
        "tracks": int(track_id[-1] + 1) if m else 0,
        "splits_gap": splits_gap,
        "splits_jump": splits_jump,
        "staff": len(staff_uniques),
    }
    return CleanResult(fixes=kept, dropped=dropped, summary=summary)


# --------------------------------------------------------------------------------------------
# Between fixes: segments and interpolation
# --------------------------------------------------------------------------------------------
def _track_key(fixes: pd.DataFrame) -> np.ndarray:
    if "track_id" in fixes:
        return fixes["track_id"].to_numpy(dtype=np.int64)
    keys = [fixes["staff_code"].astype(object)]
    if "track_code" in fixes:
        keys.append(fixes["track_code"].astype(object))
    return (
        pd.MultiIndex.from_arrays(keys).factorize()[0]
        if len(keys) > 1
        else pd.factorize(keys[0])[0]
    )


def _sorted_fixes(fixes: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, np.ndarray, np.ndarray]:
    """Fixes sorted by track and time, with their track key and times (ns)."""
    track = _track_key(fixes)
    t = _t_ns(fixes["t"].reset_index(drop=True))
    order = np.lexsort((t, track))
    return fixes.iloc[order], track[order], t[order]


def segments(fixes: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Fix-to-fix straight line segments within each track.

    Parameters
    ----------
    fixes
        Cleaned fixes (``clean_fixes(...).fixes``: ``staff_code, track_id, t, geometry``). Without
        ``track_id``, tracks are ``staff_code`` (and ``track_code`` when present).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per pair of consecutive fixes of a track: ``staff_code, track_id, t_start,
        t_end, dt_s, length_m, speed_mps`` and a 2-point LineString (EPSG:4326). Lengths in the
        local metric CRS.
    """
    fx, track, t = _sorted_fixes(fixes)
    xy = shapely.get_coordinates(fx.geometry.to_numpy())
    if len(xy) != len(fx):
        raise InputError("segments() needs one point per fix: clean the fixes first")
    a = np.flatnonzero(track[1:] == track[:-1])
    b = a + 1
    coords = np.empty((2 * len(a), 2))
    coords[0::2], coords[1::2] = xy[a], xy[b]
    lines = shapely.linestrings(coords, indices=np.repeat(np.arange(len(a)), 2))
    if len(a):
        mx, my, _ = _metric_xy(xy[:, 0], xy[:, 1])
        length = np.hypot(mx[b] - mx[a], my[b] - my[a])
    else:
        length = np.zeros(0)
    dt = (t[b] - t[a]) / _NS
    with np.errstate(divide="ignore", invalid="ignore"):
        speed = np.where(dt > 0, length / dt, np.nan)
    return gpd.GeoDataFrame(
        {
            "staff_code": fx["staff_code"].to_numpy(dtype=object)[a],
            "track_id": track[a],
            "t_start": t[a].view("datetime64[ns]"),
            "t_end": t[b].view("datetime64[ns]"),
            "dt_s": dt,
            "length_m": length,
            "speed_mps": speed,
        },
        geometry=lines,
        crs=4326,
    )


def interpolate(fixes: gpd.GeoDataFrame, *, step_s: float = 15.0) -> gpd.GeoDataFrame:
    """Presence samples at a regular time step along the straight fix-to-fix segments.

    Each segment of ``dt`` seconds is cut into ``ceil(dt / step_s)`` equal pieces; a sample at the
    start of each piece stands for the piece's duration (``w_s``). A track's last fix is a
    sample with ``w_s = 0``. So the samples of a track cover its whole duration, and sparse fixes
    (every 5 minutes) still count as presence along the path between them. Positions are linear
    in lon/lat (straight within the metre-scale error at district size).

    Returns
    -------
    geopandas.GeoDataFrame
        ``staff_code, track_id, t, w_s, interpolated`` (False for the fixes themselves) and point
        geometry (EPSG:4326), sorted by track and time.
    """
    fx, track, t = _sorted_fixes(fixes)
    xy = shapely.get_coordinates(fx.geometry.to_numpy())
    m = len(fx)
    has_next = np.zeros(m, dtype=bool)
    has_next[:-1] = track[1:] == track[:-1]
    dt = np.zeros(m)
    nxt = np.minimum(np.arange(m) + 1, max(m - 1, 0))
    dt[has_next] = (t[nxt][has_next] - t[has_next]) / _NS
    pieces = np.where(has_next, np.maximum(1, np.ceil(dt / step_s - 1e-9)), 1).astype(np.int64)
    src = np.repeat(np.arange(m), pieces)
    first = np.repeat(np.cumsum(pieces) - pieces, pieces)
    j = np.arange(len(src)) - first
    frac = j / pieces[src]
    dxy = xy[nxt] - xy
    sx = xy[src, 0] + frac * dxy[src, 0] * has_next[src]
    sy = xy[src, 1] + frac * dxy[src, 1] * has_next[src]
    w = np.where(has_next[src], dt[src] / pieces[src], 0.0)
    st = t[src] + np.round(frac * dt[src] * _NS).astype(np.int64)
    return gpd.GeoDataFrame(
        {
            "staff_code": fx["staff_code"].to_numpy(dtype=object)[src],
            "track_id": track[src],
            "t": st.view("datetime64[ns]"),
            "w_s": w,
            "interpolated": j > 0,
        },
        geometry=shapely.points(sx, sy),
        crs=4326,
    )


def _as_samples(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Samples as they are, or fixes turned into samples (``w_s`` = time to the next fix)."""
    if "w_s" in frame:
        return frame
    fx, track, t = _sorted_fixes(frame)
    w = np.zeros(len(fx))
    same = track[1:] == track[:-1]
    w[:-1] = np.where(same, (t[1:] - t[:-1]) / _NS, 0.0)
    out = fx.copy()
    out["track_id"] = track
    out["w_s"] = w
    return out


# --------------------------------------------------------------------------------------------
# Units
# --------------------------------------------------------------------------------------------
def parse_units(units) -> tuple[str, object]:
    """``("h3", res)`` for ``"h3:11"``/``("h3", 11)``, else ``("polygons", frame)``."""
    if isinstance(units, str):
        m = re.fullmatch(r"\s*h3\s*[:=]?\s*(\d{1,2})\s*", units.lower())
        if not m:
            raise InputError(f"unknown unit kind {units!r}; use 'h3:11' or a polygon layer")
        return "h3", int(m.group(1))
    if isinstance(units, tuple) and len(units) == 2 and units[0] == "h3":
        return "h3", int(units[1])
    if isinstance(units, gpd.GeoDataFrame):
        return "polygons", units
    raise InputError("units must be a polygon GeoDataFrame or 'h3:<res>'")


def _unit_ids(frame: gpd.GeoDataFrame) -> np.ndarray:
    for col in ("unit_id", "code", "grid_code", "id"):
        if col in frame:
            return frame[col].astype(str).to_numpy(dtype=object)
    return frame.index.astype(str).to_numpy(dtype=object)


def polygon_units(units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The polygon units used: micro-grids of a grid layer (``level == "micro"``), else all."""
    if "level" in units:
        units = units[units["level"] == "micro"]
    out = gpd.GeoDataFrame(
        {"unit_id": _unit_ids(units)}, geometry=units.geometry.to_numpy(), crs=units.crs
    )
    return out.to_crs(4326) if out.crs is not None and out.crs.to_epsg() != 4326 else out


def assign_units(samples: gpd.GeoDataFrame, units) -> np.ndarray:
    """Unit id (object array; None outside every unit) of each sample point (EPSG:4326).

    Grid layers (with ``level``) go through ``gis.grids.assign_points`` (micro-grids; a point on
    a shared edge goes to the smaller code); other polygon layers use an STRtree (first unit in
    layer order); ``"h3:<res>"`` uses h3 v4 ``latlng_to_cell``.
    """
    kind, spec = parse_units(units)
    geoms = samples.geometry.to_numpy()
    if kind == "h3":
        import h3

        lon, lat = shapely.get_x(geoms), shapely.get_y(geoms)
        to_cell = h3.api.basic_int.latlng_to_cell
        res = int(spec)
        cells = np.fromiter(
            (to_cell(a, b, res) for a, b in zip(lat.tolist(), lon.tolist(), strict=True)),
            dtype=np.uint64,
            count=len(lat),
        )
        uniq, inv = np.unique(cells, return_inverse=True)
        names = np.array([h3.int_to_str(int(c)) for c in uniq], dtype=object)
        return names[inv]
    frame = spec
    if "level" in frame and "parent_code" in frame and "code" in frame:
        from gis.grids import OUTSIDE, assign_points

        points = gpd.GeoSeries(geoms, crs=4326)
        micro = assign_points(points, frame)["micro"].to_numpy(dtype=object)
        return np.where(micro == OUTSIDE, None, micro)
    poly = polygon_units(frame)
    tree = shapely.STRtree(poly.geometry.to_numpy())
    hit_pt, hit_poly = tree.query(geoms, predicate="intersects")
    first = np.full(len(geoms), -1, dtype=np.int64)
    order = np.lexsort((-hit_poly, hit_pt))
    first[hit_pt[order]] = hit_poly[order]
    ids = poly["unit_id"].to_numpy(dtype=object)
    return np.where(first >= 0, ids[np.maximum(first, 0)], None)


# --------------------------------------------------------------------------------------------
# Presence
# --------------------------------------------------------------------------------------------
_DAY_NS = 86_400 * _NS
_BY_KEYS = ("unit", "staff", "day", "shift")


def _clock_ns(text: str) -> int:
    m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*", str(text))
    if not m or int(m.group(1)) > 24 or int(m.group(2)) > 59:
        raise InputError(f"invalid clock time {text!r}; use HH:MM")
    return (int(m.group(1)) * 3600 + int(m.group(2)) * 60 + int(m.group(3) or 0)) * _NS


def parse_shifts(shifts: Mapping[str, tuple[str, str]] | str | None) -> dict[str, tuple[int, int]]:
    """``{name: (start_ns, end_ns)}`` from ``{"day": ("09:00", "19:00")}`` or ``"09:00-17:00"``.

    An end at or before the start crosses midnight (``("19:00", "09:00")``).
    """
    if shifts is None:
        shifts = DEFAULT_SHIFTS
    if isinstance(shifts, str):
        a, _, b = shifts.partition("-")
        shifts = {shifts: (a, b)}
    return {str(k): (_clock_ns(a), _clock_ns(b)) for k, (a, b) in shifts.items()}


def _shift_index(
    t: np.ndarray, shifts: dict[str, tuple[int, int]]
) -> tuple[np.ndarray, np.ndarray]:
    """Per time (ns): index of the first matching shift (-1 none) and the day (ns) it started."""
    day = (t // _DAY_NS) * _DAY_NS
    tod = t - day
    idx = np.full(len(t), -1, dtype=np.int64)
    sday = day.copy()
    for k, (a, b) in enumerate(shifts.values()):
        if b > a:
            inside = (tod >= a) & (tod < b)
            start_day = day
        else:
            inside = (tod >= a) | (tod < b)
            start_day = np.where(tod < b, day - _DAY_NS, day)
        take = inside & (idx < 0)
        idx[take] = k
        sday[take] = start_day[take]
    return idx, sday


def _time_bound(value, default: int) -> int:
    if value is None:
        return int(default)
    return int(pd.Timestamp(value).as_unit("ns").value)


@dataclass
class _Prepared:
    unit: np.ndarray  # object ids
    ucode: np.ndarray
    uniques: np.ndarray
    staff: np.ndarray  # codes
    staff_uniques: np.ndarray
    t: np.ndarray  # ns
    w: np.ndarray  # s
    p0: int
    p1: int


def _prepare(samples, units, start, end, unit_ids: np.ndarray | None = None) -> _Prepared:
    samples = _as_samples(samples)
    t = _t_ns(samples["t"].reset_index(drop=True))
    w = samples["w_s"].to_numpy(dtype=np.float64)
    p0 = _time_bound(start, t.min() if len(t) else 0)
    p1 = _time_bound(end, (t + (w * _NS).astype(np.int64)).max() if len(t) else 0)
    keep = (t >= p0) & (t < p1) if len(t) else np.zeros(0, dtype=bool)
    if end is not None and len(t):  # a sample reaching past the end counts up to the end
        w = np.minimum(w, (p1 - t) / _NS)
    sub = samples.iloc[np.flatnonzero(keep)] if not keep.all() else samples
    unit = assign_units(sub, units) if unit_ids is None else unit_ids[keep]
    inside = pd.notna(unit)
    unit = unit[inside]
    t = t[keep][inside]
    w = w[keep][inside]
    staff_all = sub["staff_code"].to_numpy(dtype=object)[inside]
    ucode, uniques = pd.factorize(unit, sort=True)
    scode, suniq = pd.factorize(staff_all, sort=True)
    return _Prepared(
        unit,
        ucode,
        np.asarray(uniques, dtype=object),
        scode,
        np.asarray(suniq, dtype=object),
        t,
        w,
        p0,
        p1,
    )


def _new_visit(gid: np.ndarray, staff: np.ndarray, t: np.ndarray, w: np.ndarray, gap_s: float):
    """Order (by group, staff, time) and the new-visit flag in that order."""
    order = np.lexsort((t, staff, gid))
    g, s, tt, ww = gid[order], staff[order], t[order], w[order]
    new = np.ones(len(order), dtype=bool)
    if len(order) > 1:
        away = (tt[1:] - tt[:-1]) / _NS - ww[:-1]
        new[1:] = (g[1:] != g[:-1]) | (s[1:] != s[:-1]) | (away > gap_s)
    return order, new


def presence(
    samples: gpd.GeoDataFrame,
    units,
    *,
    by: Sequence[str] = ("unit",),
    shifts: Mapping[str, tuple[str, str]] | str | None = None,
    start=None,
    end=None,
    visit_gap_s: float = 60.0,
    unit_ids: np.ndarray | None = None,
) -> pd.DataFrame:
    """Presence per unit (and per staff member, day and/or shift), vectorised.

    Parameters
    ----------
    samples
        ``interpolate(...)`` output (``staff_code, t, w_s``, points in EPSG:4326), or fixes
        (then each fix stands for the time to the next fix of its track; no interpolation).
    units
        Polygon layer in EPSG:4326 (a grid layer with ``level``: its micro-grids, ids ``code``;
        otherwise ids from ``unit_id``/``code``), or ``"h3:11"`` for H3 cells of that resolution.
    by
        ``"unit"`` plus any of ``"staff"``, ``"day"``, ``"shift"``.
    shifts
        ``{name: ("HH:MM", "HH:MM")}``, default ``DEFAULT_SHIFTS`` (day 09:00-19:00, night
        19:00-09:00, crossing midnight); or ``"09:00-17:00"``. A sample belongs to the first
        shift containing its time; with ``"shift"`` in ``by``, samples in no shift are left out.
        A night shift belongs to the day it starts on.
    start, end
        The period (naive local times); default: first sample to the end of the last one.
        Samples outside are left out. ``time_since_last_visit_s`` is counted to ``end``.
    visit_gap_s
        Time away (s) from a unit after which coming back is a new visit (60 s absorbs GPS
        jitter along a boundary).
    unit_ids
        Precomputed unit id per sample (``assign_units``), to reuse across calls.

    Returns
    -------
    pandas.DataFrame
        ``unit_id, [staff_code], [day], [shift], visits, dwell_s, first_visit, last_visit,
        time_since_last_visit_s, max_gap_s``:

        - ``visits``: entries (see the module docstring); each staff member's entries count.
        - ``dwell_s``: sum of the sample durations in the unit (all staff together).
        - ``first_visit`` / ``last_visit``: first time present / end of the last presence.
        - ``time_since_last_visit_s``: ``end - last_visit``.
        - ``max_gap_s``: the longest time nobody (of the group) was in the unit, within the
          group's period: the whole period; with ``"day"`` that day; with ``"shift"`` each
          occurrence of the shift (the longest over occurrences, an occurrence without presence
          counting whole); gaps before the first and after the last presence count.

        For polygon units and ``by=("unit",)`` every unit has a row (unvisited: 0 visits,
        ``max_gap_s`` = the period, ``time_since_last_visit_s`` NaN). Otherwise only groups
        with presence. ``attrs["period"] = (start, end)``.
    """
    by = tuple(by)
    if "unit" not in by or any(k not in _BY_KEYS for k in by):
        raise InputError(f"by must contain 'unit' and only {', '.join(_BY_KEYS)}: got {by}")
    prep = _prepare(samples, units, start, end, unit_ids)
    sh = parse_shifts(shifts)
    t, w, p0, p1 = prep.t, prep.w, prep.p0, prep.p1
    d_first = (p0 // _DAY_NS) * _DAY_NS - _DAY_NS
    nd = int((p1 - d_first) // _DAY_NS) + 2
    names = list(sh)
    use_day, use_shift, use_staff = "day" in by, "shift" in by, "staff" in by

    # period instances: (shift or -1, day index or -1) -> [start, end) clipped to the period
    if use_shift:
        sidx, sday = _shift_index(t, sh)
        ok = sidx >= 0
        inst = sidx * nd + (sday - d_first) // _DAY_NS
        ki, kd = np.divmod(np.arange(len(names) * nd), nd)
        a = np.array([v[0] for v in sh.values()], dtype=np.int64)[ki]
        b = np.array([v[1] for v in sh.values()], dtype=np.int64)[ki]
        b = np.where(b <= a, b + _DAY_NS, b)
        i_start = np.maximum(d_first + kd * _DAY_NS + a, p0)
        i_end = np.minimum(d_first + kd * _DAY_NS + b, p1)
        i_shift, i_day = ki, kd
    elif use_day:
        sidx = np.full(len(t), -1)
        ok = np.ones(len(t), dtype=bool)
        inst = (t - d_first) // _DAY_NS
        kd = np.arange(nd)
        i_start = np.maximum(d_first + kd * _DAY_NS, p0)
        i_end = np.minimum(d_first + (kd + 1) * _DAY_NS, p1)
        i_shift, i_day = np.full(nd, -1), kd
    else:
        sidx = np.full(len(t), -1)
        ok = np.ones(len(t), dtype=bool)
        inst = np.zeros(len(t), dtype=np.int64)
        i_start, i_end = np.array([p0]), np.array([p1])
        i_shift, i_day = np.array([-1]), np.array([-1])
    i_len = np.maximum(i_end - i_start, 0)

    ucode, scode = prep.ucode[ok], prep.staff[ok]
    t, w, inst, sidx = t[ok], w[ok], inst[ok], sidx[ok]
    day_idx = i_day[inst] if use_day else np.zeros(len(t), dtype=np.int64)
    key = ucode.astype(np.int64)
    if use_staff:
        key = key * (len(prep.staff_uniques) + 1) + scode
    if use_day:
        key = key * (nd + 1) + day_idx
    if use_shift:
        key = key * (len(names) + 1) + sidx
    gid, gkey = pd.factorize(key, sort=True)
    n_g = len(gkey)

    # visits and dwell
    order, new = _new_visit(gid, scode, t, w, visit_gap_s)
    visits = np.bincount(gid[order][new], minlength=n_g)
    dwell = np.bincount(gid, weights=w, minlength=n_g)
    end_ns = t + np.round(w * _NS).astype(np.int64)
    first = np.full(n_g, np.iinfo(np.int64).max)
    last = np.full(n_g, np.iinfo(np.int64).min)
    np.minimum.at(first, gid, t)
    np.maximum.at(last, gid, end_ns)

    # longest gap per (group, period instance), then per group
    o2 = np.lexsort((t, inst, gid))
    g2, i2 = gid[o2], inst[o2]
    ts = (t[o2] - p0) / _NS
    te = ts + w[o2]
    sub_new = np.ones(len(o2), dtype=bool)
    if len(o2) > 1:
        sub_new[1:] = (g2[1:] != g2[:-1]) | (i2[1:] != i2[:-1])
    r = np.cumsum(sub_new) - 1
    big = (p1 - p0) / _NS + float(w.max() if len(w) else 0.0) + 1.0
    cm = np.maximum.accumulate(te + r * big) - r * big
    gaps = np.empty(len(o2))
    if len(o2):
        gaps[1:] = ts[1:] - cm[:-1]
        starts = np.flatnonzero(sub_new)
        gaps[starts] = ts[starts] - (i_start[i2[starts]] - p0) / _NS
        sub_max = np.maximum.reduceat(np.maximum(gaps, 0.0), starts)
        ends = np.append(starts[1:], len(o2)) - 1
        tail = (i_end[i2[ends]] - p0) / _NS - cm[ends]
        sub_max = np.maximum(sub_max, np.maximum(tail, 0.0))
        max_gap = np.zeros(n_g)
        np.maximum.at(max_gap, g2[starts], sub_max)
    else:
        max_gap = np.zeros(n_g)
    if use_shift and not use_day and n_g:
        # occurrences of the group's shift without any presence count whole
        present = np.zeros((n_g, len(i_len)), dtype=bool)
        present[g2[sub_new], i2[sub_new]] = True
        g_shift = np.zeros(n_g, dtype=np.int64)
        g_shift[gid] = sidx
        relevant = i_shift[None, :] == g_shift[:, None]
        absent_len = np.where(relevant & ~present, i_len[None, :], 0).max(axis=1) / _NS
        max_gap = np.maximum(max_gap, absent_len)

    # group labels
    rep = np.zeros(n_g, dtype=np.int64)
    rep[gid] = np.arange(len(gid))
    out = pd.DataFrame({"unit_id": prep.uniques[ucode[rep]] if n_g else np.array([], object)})
    if use_staff:
        out["staff_code"] = prep.staff_uniques[scode[rep]] if n_g else np.array([], object)
    if use_day:
        out["day"] = (d_first + day_idx[rep] * _DAY_NS).view("datetime64[ns]")
    if use_shift:
        out["shift"] = np.array(names, dtype=object)[sidx[rep]] if n_g else np.array([], object)
    out["visits"] = visits.astype(np.int64)
    out["dwell_s"] = dwell
    out["first_visit"] = first.view("datetime64[ns]")
    out["last_visit"] = last.view("datetime64[ns]")
    out["time_since_last_visit_s"] = (p1 - last) / _NS
    out["max_gap_s"] = max_gap

    kind, spec = parse_units(units)
    if kind == "polygons" and by == ("unit",):
        all_ids = polygon_units(spec)["unit_id"].to_numpy(dtype=object)
        missing = np.setdiff1d(all_ids.astype(str), out["unit_id"].astype(str).to_numpy())
        if len(missing):
            zero = pd.DataFrame(
                {
                    "unit_id": missing.astype(object),
                    "visits": 0,
                    "dwell_s": 0.0,
                    "first_visit": pd.NaT,
                    "last_visit": pd.NaT,
                    "time_since_last_visit_s": np.nan,
                    "max_gap_s": (p1 - p0) / _NS,
                }
            )
            zero["first_visit"] = zero["first_visit"].astype("datetime64[ns]")
            zero["last_visit"] = zero["last_visit"].astype("datetime64[ns]")
            out = pd.concat([out, zero], ignore_index=True)
    sort = [c for c in ("unit_id", "staff_code", "day", "shift") if c in out]
    out = out.sort_values(sort, kind="stable").reset_index(drop=True)
    out.attrs["period"] = (pd.Timestamp(p0), pd.Timestamp(p1))
    return out


def visit_table(
    samples: gpd.GeoDataFrame,
    units,
    *,
    start=None,
    end=None,
    visit_gap_s: float = 60.0,
    unit_ids: np.ndarray | None = None,
) -> pd.DataFrame:
    """One row per visit: ``unit_id, staff_code, start, end, dwell_s, samples``.

    A visit as in ``presence`` (``visit_gap_s`` away ends it); ``end`` is the end of its last
    sample; ``dwell_s`` the time inside (excludes short absences).
    """
    prep = _prepare(samples, units, start, end, unit_ids)
    order, new = _new_visit(prep.ucode, prep.staff, prep.t, prep.w, visit_gap_s)
    vid = np.cumsum(new) - 1
    n_v = int(vid[-1] + 1) if len(vid) else 0
    t, w = prep.t[order], prep.w[order]
    end_ns = t + np.round(w * _NS).astype(np.int64)
    starts = np.flatnonzero(new)
    v_end = np.maximum.reduceat(end_ns, starts) if n_v else np.zeros(0, dtype=np.int64)
    return pd.DataFrame(
        {
            "unit_id": prep.uniques[prep.ucode[order][starts]] if n_v else np.array([], object),
            "staff_code": prep.staff_uniques[prep.staff[order][starts]]
            if n_v
            else np.array([], object),
            "start": t[starts].view("datetime64[ns]"),
            "end": v_end.view("datetime64[ns]"),
            "dwell_s": np.bincount(vid, weights=w, minlength=n_v),
            "samples": np.bincount(vid, minlength=n_v),
        }
    )


# --------------------------------------------------------------------------------------------
# Street coverage
# --------------------------------------------------------------------------------------------
@dataclass
class StreetCoverage:
    """Per street: ``street_id, length_m, covered_m, covered_share``; and the overall share."""

    streets: pd.DataFrame
    covered_share: float
    length_m: float
    covered_m: float


def _to_metric_geoms(geoms: np.ndarray, tr: pyproj.Transformer) -> np.ndarray:
    def fn(xy: np.ndarray) -> np.ndarray:
        x, y = tr.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, fn)


def _street_frame(streets: gpd.GeoDataFrame, tr: pyproj.Transformer | None):
    geo = (
        streets.to_crs(4326)
        if streets.crs is not None and streets.crs.to_epsg() != 4326
        else streets
    )
    geoms = geo.geometry.to_numpy()
    if tr is None:
        xy = shapely.get_coordinates(geoms)
        tr = _metric_transformer(xy[:, 0], xy[:, 1])
    ids = (
        streets["street_id"].to_numpy()
        if "street_id" in streets
        else (streets["id"].to_numpy() if "id" in streets else np.arange(len(streets)))
    )
    return ids, _to_metric_geoms(geoms, tr), tr


def _coverage_result(ids, length, covered) -> StreetCoverage:
    share = np.divide(covered, length, out=np.zeros(len(length)), where=length > 0)
    frame = pd.DataFrame(
        {"street_id": ids, "length_m": length, "covered_m": covered, "covered_share": share}
    )
    total, cov = float(length.sum()), float(covered.sum())
    return StreetCoverage(frame, cov / total if total > 0 else 0.0, total, cov)


def _sampled_street_hits(
    lines: np.ndarray, tr, tracks, *, buffer_m: float, sample_m: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Streets (metric ``lines`` from ``_street_frame``, transformer ``tr``) cut into
    ``ceil(length / sample_m)`` equal pieces, and whether each piece's midpoint is within
    ``buffer_m`` metres of a track geometry (STRtree ``dwithin``, local metric CRS).

    Returns ``length`` (m, per street), ``pieces`` (per street), ``src`` (street of each piece),
    ``points`` (piece midpoints, metric) and ``hit`` (bool per piece); shared by
    ``street_coverage`` and ``street_coverage_by_unit``.
    """
    length = shapely.length(lines)
    pieces = np.maximum(1, np.ceil(length / sample_m)).astype(np.int64)
    src = np.repeat(np.arange(len(lines)), pieces)
    j = np.arange(len(src)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    points = shapely.line_interpolate_point(lines[src], (j + 0.5) / pieces[src], normalized=True)
    geo = tracks.geometry if isinstance(tracks, gpd.GeoDataFrame) else tracks
    geo = geo.to_crs(4326) if geo.crs is not None and geo.crs.to_epsg() != 4326 else geo
    track_geoms = _to_metric_geoms(geo.to_numpy(), tr)
    track_geoms = track_geoms[~(shapely.is_missing(track_geoms) | shapely.is_empty(track_geoms))]
    hit = np.zeros(len(points), dtype=bool)
    if len(track_geoms):
        idx = shapely.STRtree(track_geoms).query(points, predicate="dwithin", distance=buffer_m)[0]
        hit[idx] = True
    return length, pieces, src, points, hit


def street_coverage(
    streets: gpd.GeoDataFrame,
    tracks: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    buffer_m: float = GPS_ACCURACY_M,
    sample_m: float = 10.0,
) -> StreetCoverage:
    """Share of street length passed within ``buffer_m`` of a track.

    Each street (lines, EPSG:4326) is cut into ``ceil(length / sample_m)`` equal pieces; the
    piece's midpoint stands for it. A piece is covered when its midpoint is within ``buffer_m``
    of any track geometry (``segments(...)`` lines, or fix points to measure fixes alone),
    found with an STRtree ``dwithin`` query in the local metric CRS. Error: at most one piece per
    street end of the buffer's edge, i.e. about ``sample_m / length`` per street.

    Returns
    -------
    StreetCoverage
        ``streets``: ``street_id`` (or ``id``, else position), ``length_m, covered_m,
        covered_share``; overall ``covered_share`` (length-weighted).
    """
    ids, lines, tr = _street_frame(streets, None)
    length, pieces, src, points, hit = _sampled_street_hits(
        lines, tr, tracks, buffer_m=buffer_m, sample_m=sample_m
    )
    covered = np.bincount(src[hit], weights=(length / pieces)[src[hit]], minlength=len(lines))
    return _coverage_result(ids, length, covered)


def street_coverage_buffer_union(
    streets: gpd.GeoDataFrame,
    tracks: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    buffer_m: float = GPS_ACCURACY_M,
) -> StreetCoverage:
    """Reference for ``street_coverage``: buffer every track geometry by ``buffer_m``, union the
    buffers, and intersect each street with the union (exact up to the buffer's polygon
    approximation; slow for many segments)."""
    ids, lines, tr = _street_frame(streets, None)
    geo = tracks.geometry if isinstance(tracks, gpd.GeoDataFrame) else tracks
    track_geoms = _to_metric_geoms(geo.to_numpy(), tr)
    area = shapely.union_all(shapely.buffer(track_geoms, buffer_m))
    shapely.prepare(area)
    covered = shapely.length(shapely.intersection(lines, area))
    return _coverage_result(ids, shapely.length(lines), covered)


# --------------------------------------------------------------------------------------------
# Dosage at hotspots (Koper 1995)
# --------------------------------------------------------------------------------------------
def dosage(
    samples: gpd.GeoDataFrame,
    hotspot_units,
    *,
    units=None,
    stop_min_s: float = 600.0,
    stop_max_s: float = 900.0,
    revisit_s: float = 7200.0,
    period: tuple | None = None,
    active_hours: Iterable[int] | Mapping[str, Iterable[int]] | None = None,
    visit_gap_s: float = 60.0,
) -> pd.DataFrame:
    """Patrol dosage at hot spots after Koper (1995): 10-15 minute stops, revisits every 2 hours.

    Definitions
    -----------
    - *stop*: a visit (see ``presence``) with ``dwell_s >= stop_min_s``. Stops between
      ``stop_min_s`` and ``stop_max_s`` (10-15 min) are Koper's optimum (``stops_optimal``);
      longer ones still count as stops (``stops_long``: diminishing returns).
    - A stop *covers* the time from its start until ``revisit_s`` after its end.
    - *hotspot-hours*: the whole clock hours of the period (``[h, h + 1 h)``, inside
      ``period``) at the hotspot's active hours of day (``active_hours``; default all 24).
    - An hour is *met* when it lies entirely within the union of the stops' covered time: at
      every instant of the hour a stop of at least ``stop_min_s`` was under way or ended no more
      than ``revisit_s`` before. Stops at most ``revisit_s`` apart thus meet every hour between
      them.

    Parameters
    ----------
    samples
        ``interpolate`` output (or fixes).
    hotspot_units
        A polygon GeoDataFrame of the hot spots (ids ``unit_id``/``code``), or unit ids of
        ``units`` (e.g. H3 cells with ``units="h3:11"`` or micro-grid codes with a grid layer).
    period
        ``(start, end)`` naive local times; default the samples' extent.
    active_hours
        Hours of day (0-23) when hot spots are active, for all or per unit id.

    Returns
    -------
    pandas.DataFrame
        Per hot spot: ``unit_id, visits, dwell_s, stops, stops_optimal, stops_long,
        stop_dwell_s, hours_active, hours_met, share_hours_met, longest_without_stop_s``
        (longest stretch of the period with no stop in progress, from period start to end).
    """
    if isinstance(hotspot_units, gpd.GeoDataFrame):
        layer = polygon_units(hotspot_units)
        ids = layer["unit_id"].to_numpy(dtype=object)
        units = layer
    else:
        ids = np.array([str(u) for u in hotspot_units], dtype=object)
        if units is None:
            raise InputError("dosage: give units= (a polygon layer or 'h3:<res>') for unit ids")
    start, end = period if period is not None else (None, None)
    vt = visit_table(samples, units, start=start, end=end, visit_gap_s=visit_gap_s)
    s_all = _as_samples(samples)
    t_all = _t_ns(s_all["t"].reset_index(drop=True))
    w_all = s_all["w_s"].to_numpy(dtype=np.float64)
    p0 = _time_bound(start, t_all.min() if len(t_all) else 0)
    p1 = _time_bound(end, (t_all + (w_all * _NS).astype(np.int64)).max() if len(t_all) else 0)
    hour = 3600 * _NS
    h_first = -(-p0 // hour) * hour
    hours = np.arange(h_first, p1 - hour + 1, hour, dtype=np.int64)
    hod = (hours % _DAY_NS) // hour
    rows = []
    vt = vt[vt["unit_id"].isin(set(ids))]
    by_unit = dict(tuple(vt.groupby("unit_id", sort=False)))
    for uid in ids:
        v = by_unit.get(uid, vt.iloc[0:0])
        stop = v[v["dwell_s"] >= stop_min_s].sort_values("start")
        a = _t_ns(stop["start"])
        b = _t_ns(stop["end"])
        if isinstance(active_hours, Mapping):
            act = set(int(h) for h in active_hours.get(uid, range(24)))
        else:
            act = set(range(24)) if active_hours is None else {int(h) for h in active_hours}
        h_act = hours[np.isin(hod, sorted(act))]
        met = 0
        longest = (p1 - p0) / _NS
        if len(a):
            cs, ce = a, b + int(revisit_s * _NS)
            ce = np.maximum.accumulate(ce)
            new = np.ones(len(cs), dtype=bool)
            new[1:] = cs[1:] > ce[:-1]
            m_start = cs[new]
            m_end = np.maximum.reduceat(ce, np.flatnonzero(new))
            k = np.searchsorted(m_start, h_act, side="right") - 1
            ok = (k >= 0) & (m_end[np.maximum(k, 0)] >= h_act + hour)
            met = int(ok.sum())
            # longest stretch with no stop in progress
            se = np.maximum.accumulate(b)
            gaps = np.concatenate([[a[0] - p0], a[1:] - se[:-1], [p1 - se[-1]]]) / _NS
            longest = float(max(gaps.max(), 0.0))
        n_act = len(h_act)
        d = stop["dwell_s"].to_numpy()
        rows.append(
            {
                "unit_id": uid,
                "visits": len(v),
                "dwell_s": float(v["dwell_s"].sum()),
                "stops": len(stop),
                "stops_optimal": int(((d >= stop_min_s) & (d <= stop_max_s)).sum()),
                "stops_long": int((d > stop_max_s).sum()),
                "stop_dwell_s": float(d.sum()),
                "hours_active": n_act,
                "hours_met": met,
                "share_hours_met": met / n_act if n_act else np.nan,
                "longest_without_stop_s": longest,
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# Coverage gaps
# --------------------------------------------------------------------------------------------
_CONFIDENCE = {3: 99, 2: 95, 1: 90}
RISK_COLUMNS = ("risk", "score", "density", "gi_z", "z", "count")


@dataclass
class GapReport:
    """``ranked``: units by gap score with reasons (zh/en); ``unvisited``: units (micro-grids)
    with no visit in the period; ``staff_unpatrolled``: per staff member, their responsible
    micro-grids they did not patrol."""

    ranked: pd.DataFrame
    unvisited: pd.DataFrame
    staff_unpatrolled: pd.DataFrame


def _category_names(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(zh, en) names of category codes via the taxonomy; other text is used as it is."""
    zh = values.astype(object).where(values.notna(), None)
    en = zh.copy()
    try:
        from gis.taxonomy import read_taxonomy

        tax = read_taxonomy()
        names_zh = dict(zip(tax["code"], tax["name_zh"], strict=True))
        names_en = dict(zip(tax["code"], tax["name_en"], strict=True))
    except Exception:  # pragma: no cover - taxonomy file missing
        names_zh, names_en = {}, {}

    def lower_first(s: str) -> str:
        return s[:1].lower() + s[1:] if s[:2] != s[:2].upper() else s

    zh = zh.map(lambda c: None if c is None else names_zh.get(str(c), str(c)))
    en = en.map(lambda c: None if c is None else lower_first(names_en.get(str(c), str(c))))
    return zh, en


def _reasons(frame: pd.DataFrame, period_s: float) -> tuple[list[str], list[str]]:
    zh_cat, en_cat = (
        _category_names(frame["category"])
        if "category" in frame
        else (pd.Series([None] * len(frame)), pd.Series([None] * len(frame)))
    )
    out_zh, out_en = [], []
    period_days = int(period_s // 86400)
    for k, row in enumerate(frame.itertuples(index=False)):
        gi = getattr(row, "gi_bin", None)
        gi = None if gi is None or pd.isna(gi) else int(gi)
        cz, ce = zh_cat.iloc[k], en_cat.iloc[k]
        if gi is not None and gi >= 1:
            conf = _CONFIDENCE.get(min(gi, 3))
            en = f"{conf} % hotspot" + (f" for {ce}" if ce else "")
            zh = f"{cz or ''}{conf}%置信热点"
        else:
            top = max(1, math.ceil((1.0 - float(row.risk_pct)) * 100))
            en = f"risk in the top {top} %" + (f" for {ce}" if ce else "")
            zh = f"{cz or ''}风险前{top}%"
        emerging = getattr(row, "emerging", None)
        if emerging is not None and not pd.isna(emerging) and str(emerging):
            en += f" ({emerging})"
            zh += f"（{emerging}）"
        tsl = row.time_since_last_visit_s
        if row.visits == 0 or pd.isna(tsl):
            if period_days >= 1:
                en += f", no visit in {period_days} day{'s' if period_days != 1 else ''}"
                zh += f"，{period_days}天无人巡查"
            else:
                en += ", no visit in the period"
                zh += "，本期无人巡查"
        elif tsl >= 86400:
            days = int(tsl // 86400)
            en += f", no visit in {days} day{'s' if days != 1 else ''}"
            zh += f"，{days}天无人巡查"
        else:
            hours = int(tsl // 3600)
            minutes = int(round(row.dwell_s / 60))
            en += f", last visit {hours} h ago, {minutes} min in the period"
            zh += f"，{hours}小时前巡查过，本期共{minutes}分钟"
        out_zh.append(zh)
        out_en.append(en)
    return out_zh, out_en


def _unit_presence(presence: pd.DataFrame) -> pd.DataFrame:
    """Presence per unit; per-staff rows are combined (sums; last visit the latest; the longest
    gap the smallest of the staff's, an upper bound of the combined one)."""
    extra = [c for c in ("staff_code", "day", "shift") if c in presence]
    if not extra:
        return presence
    return presence.groupby("unit_id", as_index=False).agg(
        visits=("visits", "sum"),
        dwell_s=("dwell_s", "sum"),
        first_visit=("first_visit", "min"),
        last_visit=("last_visit", "max"),
        time_since_last_visit_s=("time_since_last_visit_s", "min"),
        max_gap_s=("max_gap_s", "min"),
    )


def coverage_gaps(
    presence: pd.DataFrame,
    risk: pd.DataFrame,
    *,
    staff: pd.DataFrame | None = None,
    grids: pd.DataFrame | None = None,
    period: tuple | None = None,
) -> GapReport:
    """Where risk is high and patrol presence low: a pure function over two tables.

    Parameters
    ----------
    presence
        ``presence(...)`` output: ``unit_id, visits, dwell_s, last_visit,
        time_since_last_visit_s, max_gap_s`` (with ``staff_code`` rows it is combined per unit
        for the ranking and used per staff member for ``staff_unpatrolled``).
    risk
        ``unit_id`` and a risk measure (``risk``, or ``score``/``density``/``gi_z``/``count``);
        optional ``gi_bin`` (-3..3, Gi* confidence bin: 3 = 99 %, 2 = 95 %, 1 = 90 % hot),
        ``category`` (taxonomy code such as ``05-05`` or a name) and ``emerging`` (class text).
    staff
        ``staff_code, grid_code`` (optional ``name, role``): each member's responsible grids
        are ``grid_code`` and its descendants (``gis.grids.descendants``), micro-grids only.
    grids
        The grid layer (``code, level, parent_code``): micro-grids nobody visited.
    period
        ``(start, end)``; default ``presence.attrs["period"]``.

    Scoring
    -------
    ``risk_pct`` = percentile rank of the risk (0-1]; ``presence_score`` = min(1, dwell_s /
    median dwell_s of the visited units in ``presence``); ``staleness`` = min(1,
    time_since_last_visit_s / period) (1 when never visited); ``gap_score = risk_pct * (0.5 *
    (1 - presence_score) + 0.5 * staleness)``. Ranked by ``gap_score`` (then risk).

    Returns
    -------
    GapReport
        ``ranked``: ``rank, unit_id, risk, risk_pct, [gi_bin, category, emerging], visits,
        dwell_s, last_visit, time_since_last_visit_s, max_gap_s, gap_score, reason_zh,
        reason_en`` (e.g. "99 % hotspot for illegal parking (motor vehicles), no visit in 9
        days" / "机动车乱停放99%置信热点，9天无人巡查").
    """
    per_unit = _unit_presence(presence)
    if period is None:
        period = presence.attrs.get("period")
    if period is not None:
        period_s = (pd.Timestamp(period[1]) - pd.Timestamp(period[0])).total_seconds()
    else:
        period_s = float(np.nanmax(per_unit["max_gap_s"])) if len(per_unit) else 86400.0
    risk = risk.copy()
    risk["unit_id"] = risk["unit_id"].astype(str)
    rcol = next((c for c in RISK_COLUMNS if c in risk), None)
    if rcol is None:
        if "gi_bin" not in risk:
            raise InputError(f"risk needs a measure column: one of {', '.join(RISK_COLUMNS)}")
        rcol = "gi_bin"
    risk["risk"] = pd.to_numeric(risk[rcol], errors="coerce").astype(float)
    risk["risk_pct"] = risk["risk"].rank(pct=True, method="max")
    pres = per_unit.copy()
    pres["unit_id"] = pres["unit_id"].astype(str)
    cols = ["visits", "dwell_s", "last_visit", "time_since_last_visit_s", "max_gap_s"]
    merged = risk.merge(pres[["unit_id", *cols]], on="unit_id", how="left")
    merged["visits"] = merged["visits"].fillna(0).astype(np.int64)
    merged["dwell_s"] = merged["dwell_s"].fillna(0.0)
    merged["max_gap_s"] = merged["max_gap_s"].fillna(period_s)
    visited = pres.loc[pres["visits"] > 0, "dwell_s"]
    ref = float(visited.median()) if len(visited) else 1.0
    presence_score = np.minimum(1.0, merged["dwell_s"].to_numpy() / max(ref, 1e-9))
    tsl = merged["time_since_last_visit_s"].to_numpy(dtype=float)
    staleness = np.where(
        (merged["visits"].to_numpy() == 0) | np.isnan(tsl),
        1.0,
        np.minimum(1.0, tsl / max(period_s, 1e-9)),
    )
    merged["presence_score"] = presence_score
    merged["gap_score"] = merged["risk_pct"].to_numpy() * (
        0.5 * (1.0 - presence_score) + 0.5 * staleness
    )
    merged = merged.sort_values(["gap_score", "risk"], ascending=False, kind="stable")
    merged = merged.reset_index(drop=True)
    merged.insert(0, "rank", np.arange(1, len(merged) + 1))
    zh, en = _reasons(merged, period_s)
    merged["reason_zh"], merged["reason_en"] = zh, en
    keep = ["rank", "unit_id", "risk", "risk_pct"]
    keep += [c for c in ("gi_bin", "category", "emerging") if c in merged]
    keep += cols + ["presence_score", "gap_score", "reason_zh", "reason_en"]
    ranked = merged[keep]

    score = dict(zip(ranked["unit_id"], ranked["gap_score"], strict=True))
    risk_of = dict(zip(ranked["unit_id"], ranked["risk"], strict=True))
    visited_any = set(pres.loc[pres["visits"] > 0, "unit_id"])
    micro: list[str] = []
    if grids is not None:
        g = grids[grids["level"] == "micro"] if "level" in grids else grids
        micro = sorted(g["code"].astype(str))
        names = dict(zip(g["code"].astype(str), g.get("name", g["code"]).astype(str), strict=True))
        parents = dict(zip(g["code"].astype(str), g.get("parent_code", g["code"]), strict=True))
        never = [c for c in micro if c not in visited_any]
        unvisited = pd.DataFrame(
            {
                "unit_id": never,
                "name": [names.get(c) for c in never],
                "parent_code": [parents.get(c) for c in never],
                "risk": [risk_of.get(c, np.nan) for c in never],
                "gap_score": [score.get(c, np.nan) for c in never],
            }
        )
    else:
        units = pres.loc[pres["visits"] == 0, "unit_id"].tolist()
        unvisited = pd.DataFrame({"unit_id": units, "risk": [risk_of.get(c) for c in units]})
    unvisited = unvisited.sort_values(
        ["gap_score" if "gap_score" in unvisited else "risk"], ascending=False, na_position="last"
    ).reset_index(drop=True)

    rows = []
    if staff is not None and grids is not None:
        from gis.grids import descendants

        per_staff = "staff_code" in presence
        if per_staff:
            by_staff = presence[presence["visits"] > 0].groupby("staff_code")["unit_id"]
            walked = {s: set(v.astype(str)) for s, v in by_staff}
        micro_set = set(micro)
        for rec in staff.itertuples(index=False):
            code = getattr(rec, "grid_code", None)
            if code is None or pd.isna(code):
                continue
            mine = sorted(descendants(str(code), grids) & micro_set)
            done = walked.get(rec.staff_code, set()) if per_staff else visited_any
            for unit in mine:
                if unit in done:
                    continue
                rows.append(
                    {
                        "staff_code": rec.staff_code,
                        "name": getattr(rec, "name", None),
                        "role": getattr(rec, "role", None),
                        "grid_code": code,
                        "unit_id": unit,
                        "visited_by_others": unit in visited_any,
                        "risk": risk_of.get(unit, np.nan),
                        "gap_score": score.get(unit, np.nan),
                    }
                )
    staff_unpatrolled = pd.DataFrame(
        rows,
        columns=[
            "staff_code",
            "name",
            "role",
            "grid_code",
            "unit_id",
            "visited_by_others",
            "risk",
            "gap_score",
        ],
    )
    if len(staff_unpatrolled):
        staff_unpatrolled = staff_unpatrolled.sort_values(
            ["staff_code", "gap_score"], ascending=[True, False], na_position="last"
        ).reset_index(drop=True)
    return GapReport(ranked=ranked, unvisited=unvisited, staff_unpatrolled=staff_unpatrolled)


# --------------------------------------------------------------------------------------------
# Suggested route
# --------------------------------------------------------------------------------------------
@dataclass
class Route:
    """A suggested patrol: ordered ``stops`` (``order, unit_id, score, arrive_s, depart_s, lon,
    lat``), the ``line`` (LineString, EPSG:4326), totals and the distance ``mode`` used
    (``"network"``: shortest paths on the streets; ``"straight"``: straight lines)."""

    stops: pd.DataFrame
    line: shapely.LineString | None
    total_s: float
    travel_m: float
    mode: str
    skipped: pd.DataFrame


class _Network:
    """Street graph (metric) with shortest paths by scipy.sparse.csgraph (networkx is not a
    dependency; the paths are the same)."""

    def __init__(self, lines: np.ndarray) -> None:
        from scipy.sparse import coo_matrix

        lines = lines[~(shapely.is_missing(lines) | shapely.is_empty(lines))]
        start = shapely.get_coordinates(shapely.get_point(lines, 0))
        end = shapely.get_coordinates(shapely.get_point(lines, -1))
        ends = np.round(np.vstack([start, end]), 1)
        nodes, inv = np.unique(ends, axis=0, return_inverse=True)
        inv = inv.ravel()
        u, v = inv[: len(lines)], inv[len(lines) :]
        w = np.maximum(shapely.length(lines), 1e-6)
        self.nodes = nodes
        self.lines = lines
        n = len(nodes)
        best: dict[tuple[int, int], int] = {}  # the shortest piece per node pair, no loops
        for k, (a, b) in enumerate(zip(u.tolist(), v.tolist(), strict=True)):
            if a == b:
                continue
            key = (min(a, b), max(a, b))
            if key not in best or w[k] < w[best[key]]:
                best[key] = k
        ks = np.array(sorted(best.values()), dtype=np.int64)
        uu, vv, ww = u[ks], v[ks], w[ks]
        self.graph = coo_matrix(
            (np.concatenate([ww, ww]), (np.concatenate([uu, vv]), np.concatenate([vv, uu]))),
            shape=(n, n),
        ).tocsr()
        self.edge = {}
        for k in ks.tolist():
            coords = shapely.get_coordinates(lines[k])
            self.edge[(int(u[k]), int(v[k]))] = coords
            self.edge[(int(v[k]), int(u[k]))] = coords[::-1]
        self.tree = shapely.STRtree(shapely.points(nodes))

    def snap(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        idx = self.tree.nearest(shapely.points(xy))
        return idx, np.hypot(*(self.nodes[idx] - xy).T)

    def distances(self, node: np.ndarray):
        from scipy.sparse.csgraph import dijkstra

        dist, pred = dijkstra(self.graph, directed=False, indices=node, return_predecessors=True)
        return dist[:, node], pred

    def path(self, pred_row: np.ndarray, a: int, b: int) -> np.ndarray:
        chain = [b]
        while chain[-1] != a and chain[-1] >= 0:
            chain.append(int(pred_row[chain[-1]]))
        chain.reverse()
        pieces = [self.nodes[a][None, :]]
        for p, q in zip(chain[:-1], chain[1:], strict=True):
            pieces.append(self.edge.get((p, q), self.nodes[[p, q]])[1:])
        return np.vstack(pieces)


def _stop_points(stops: pd.DataFrame) -> np.ndarray:
    if isinstance(stops, gpd.GeoDataFrame):
        geo = stops.to_crs(4326) if stops.crs is not None and stops.crs.to_epsg() != 4326 else stops
        g = geo.geometry.to_numpy()
        pts = np.where(shapely.get_type_id(g) == 0, g, shapely.point_on_surface(g))
        return shapely.get_coordinates(pts)
    return stops[["lon", "lat"]].to_numpy(dtype=float)


def suggest_route(
    start_xy: tuple[float, float],
    stops: pd.DataFrame,
    *,
    budget_s: float,
    speed_mps: float = 1.2,
    dwell_s: float = 600.0,
    streets: gpd.GeoDataFrame | None = None,
    return_to_start: bool = False,
) -> Route:
    """A patrol route through the most valuable gap units within a time budget.

    Greedy insertion by ``score / added time`` (travel at ``speed_mps`` plus ``dwell_s`` per
    stop) while the total fits ``budget_s``, then 2-opt on the order, then more insertions with
    the time saved (repeated until nothing changes). Distances are shortest paths on
    ``streets`` (``scipy.sparse.csgraph.dijkstra`` on the noded street pieces, plus the
    straight hop from a stop to its nearest street node) when given, else straight lines.

    Parameters
    ----------
    start_xy
        (lon, lat) where the staff member starts (EPSG:4326).
    stops
        Candidates: ``unit_id, score`` and point/polygon geometry (a polygon's point on
        surface), or ``lon, lat`` columns.
    return_to_start
        Close the tour at the start (the return counts in the budget).

    Returns
    -------
    Route
    """
    pts = _stop_points(stops)
    score = stops["score"].to_numpy(dtype=float) if "score" in stops else np.ones(len(pts))
    ids = stops["unit_id"].to_numpy(dtype=object) if "unit_id" in stops else np.arange(len(pts))
    allxy = np.vstack([np.asarray(start_xy, dtype=float)[None, :], pts])
    mx, my, tr = _metric_xy(allxy[:, 0], allxy[:, 1])
    mxy = np.column_stack([mx, my])
    n = len(mxy)
    mode = "straight"
    dist = np.hypot(mxy[:, None, 0] - mxy[None, :, 0], mxy[:, None, 1] - mxy[None, :, 1])
    net = None
    if streets is not None and len(streets):
        _, lines, _ = _street_frame(streets, tr)
        net = _Network(lines)
        node, hop = net.snap(mxy)
        d_net, pred = net.distances(node)
        dn = hop[:, None] + d_net + hop[None, :]
        np.fill_diagonal(dn, 0.0)
        if np.isfinite(dn).all():
            dist, mode = dn, "network"
        else:  # a stop off the connected network: straight lines for the pairs without a path
            dist = np.where(np.isfinite(dn), dn, dist * 1.5)
            np.fill_diagonal(dist, 0.0)
            mode = "network"
    travel = dist / speed_mps

    def route_time(route: list[int]) -> float:
        legs = sum(travel[a, b] for a, b in zip(route[:-1], route[1:], strict=True))
        if return_to_start and len(route) > 1:
            legs += travel[route[-1], 0]
        return legs + dwell_s * (len(route) - 1)

    def two_opt(route: list[int]) -> list[int]:
        improved = True
        while improved and len(route) > 3:
            improved = False
            for i in range(1, len(route) - 1):
                for j in range(i + 1, len(route)):
                    cand = route[:i] + route[i : j + 1][::-1] + route[j + 1 :]
                    if route_time(cand) < route_time(route) - 1e-9:
                        route, improved = cand, True
        return route

    route = [0]
    left = set(range(1, n))
    while True:
        while left:  # greedy insertion by score per added second
            base = route_time(route)
            best, best_ratio = None, -1.0
            for c in sorted(left):
                for pos in range(1, len(route) + 1):
                    cand = route[:pos] + [c] + route[pos:]
                    t_new = route_time(cand)
                    if t_new > budget_s:
                        continue
                    ratio = score[c - 1] / max(t_new - base, 1e-9)
                    if ratio > best_ratio:
                        best, best_ratio = cand, ratio
            if best is None:
                break
            left -= set(best) - set(route)
            route = best
        shorter = two_opt(route)
        if shorter == route or not left:
            route = shorter
            break
        route = shorter  # time saved: try to insert more

    # timetable and line
    arrive, depart, clock = [], [], 0.0
    for a, b in zip(route[:-1], route[1:], strict=True):
        clock += travel[a, b]
        arrive.append(clock)
        clock += dwell_s
        depart.append(clock)
    legs = list(zip(route[:-1], route[1:], strict=True))
    if return_to_start and len(route) > 1:
        legs.append((route[-1], 0))
        clock += travel[route[-1], 0]
    inv = pyproj.Transformer.from_crs(tr.target_crs, 4326, always_xy=True)
    coords = [mxy[0][None, :]]
    for a, b in legs:
        if mode == "network" and net is not None and np.isfinite(d_net[a, b]):
            path = net.path(pred[a], int(node[a]), int(node[b]))
            coords += [path, mxy[b][None, :]]
        else:
            coords.append(mxy[b][None, :])
    line = None
    if len(legs):
        xy = np.vstack(coords)
        keep = np.concatenate([[True], np.any(np.diff(xy, axis=0) != 0, axis=1)])
        lx, ly = inv.transform(xy[keep, 0], xy[keep, 1])
        line = shapely.LineString(np.column_stack([lx, ly])) if keep.sum() >= 2 else None
    chosen = np.array(route[1:], dtype=np.int64)
    table = pd.DataFrame(
        {
            "order": np.arange(1, len(chosen) + 1),
            "unit_id": ids[chosen - 1] if len(chosen) else np.array([], object),
            "score": score[chosen - 1] if len(chosen) else np.array([], float),
            "arrive_s": arrive,
            "depart_s": depart,
            "lon": allxy[chosen, 0],
            "lat": allxy[chosen, 1],
        }
    )
    rest = np.array(sorted(left), dtype=np.int64)
    skipped = pd.DataFrame(
        {
            "unit_id": ids[rest - 1] if len(rest) else np.array([], object),
            "score": score[rest - 1] if len(rest) else np.array([], float),
        }
    )
    travel_m = float(sum(dist[a, b] for a, b in legs))
    return Route(table, line, float(clock), travel_m, mode, skipped)


# --------------------------------------------------------------------------------------------
# Coverage per unit, risk per unit, and the patrol view (used by the CLI and the Patrol page)
# --------------------------------------------------------------------------------------------
def _ids_str(values) -> np.ndarray:
    return np.asarray([None if v is None else str(v) for v in values], dtype=object)


def _street_ids(streets: gpd.GeoDataFrame) -> np.ndarray:
    for col in ("street_id", "id"):
        if col in streets:
            return _ids_str(streets[col].to_numpy())
    return np.arange(len(streets)).astype(str).astype(object)


def street_units(streets: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Streets as presence units: ``unit_id`` (``street_id``/``id`` as text), ``name``,
    ``highway`` where present, line geometry (EPSG:4326)."""
    geo = (
        streets.to_crs(4326)
        if streets.crs is not None and streets.crs.to_epsg() != 4326
        else streets
    )
    cols = {c: geo[c].to_numpy() for c in ("name", "highway") if c in geo}
    return gpd.GeoDataFrame(
        {"unit_id": _street_ids(geo), **cols}, geometry=geo.geometry.to_numpy(), crs=4326
    )


def assign_streets(
    samples: gpd.GeoDataFrame, streets: gpd.GeoDataFrame, *, max_distance_m: float = GPS_ACCURACY_M
) -> np.ndarray:
    """Street id (text; None when no street is within ``max_distance_m``) of each sample.

    The nearest street (STRtree ``query_nearest`` in the local metric CRS); on a tie the first
    street in layer order.
    """
    ids = _street_ids(streets)
    geoms = samples.geometry.to_numpy()
    out = np.full(len(geoms), None, dtype=object)
    if not len(geoms) or not len(streets):
        return out
    xy = shapely.get_coordinates(geoms)
    tr = _metric_transformer(xy[:, 0], xy[:, 1])
    _, lines, _ = _street_frame(streets, tr)
    mx, my = tr.transform(xy[:, 0], xy[:, 1])
    pts = shapely.points(mx, my)
    tree = shapely.STRtree(lines)
    pi, li = tree.query_nearest(pts, max_distance=max_distance_m, all_matches=True)
    order = np.lexsort((li, pi))
    pi, li = pi[order], li[order]
    first = np.ones(len(pi), dtype=bool)
    first[1:] = pi[1:] != pi[:-1]
    out[pi[first]] = ids[li[first]]
    return out


def street_coverage_by_unit(
    streets: gpd.GeoDataFrame,
    tracks: gpd.GeoDataFrame | gpd.GeoSeries,
    units,
    *,
    buffer_m: float = GPS_ACCURACY_M,
    sample_m: float = 10.0,
) -> pd.DataFrame:
    """Street length and the part of it passed within ``buffer_m`` of a track, per unit.

    The same sampled pieces as ``street_coverage`` (midpoints every ``sample_m`` metres, an
    STRtree ``dwithin`` query against the track segments); each piece belongs to the unit (a
    polygon layer, micro-grids of a grid layer, or ``"h3:<res>"``) its midpoint falls in.

    Returns
    -------
    pandas.DataFrame
        ``unit_id, street_m, covered_m, covered_share`` for the units with streets in them
        (``covered_share = covered_m / street_m``).
    """
    cols = ["unit_id", "street_m", "covered_m", "covered_share"]
    if streets is None or not len(streets):
        return pd.DataFrame(columns=cols)
    _, lines, tr = _street_frame(streets, None)
    length, pieces, src, points, hit = _sampled_street_hits(
        lines, tr, tracks, buffer_m=buffer_m, sample_m=sample_m
    )
    inv = pyproj.Transformer.from_crs(tr.target_crs, 4326, always_xy=True)
    pxy = shapely.get_coordinates(points)
    lon, lat = inv.transform(pxy[:, 0], pxy[:, 1])
    unit = assign_units(gpd.GeoDataFrame(geometry=shapely.points(lon, lat), crs=4326), units)
    inside = pd.notna(unit)
    code, uniq = pd.factorize(unit[inside], sort=True)
    w = (length / pieces)[src][inside]
    street_m = np.bincount(code, weights=w, minlength=len(uniq))
    covered_m = np.bincount(code, weights=w * hit[inside], minlength=len(uniq))
    return pd.DataFrame(
        {
            "unit_id": np.asarray(uniq, dtype=object),
            "street_m": street_m,
            "covered_m": covered_m,
            "covered_share": np.divide(
                covered_m, street_m, out=np.zeros(len(uniq)), where=street_m > 0
            ),
        }
    )


def _shift_window(shift) -> dict[str, tuple[int, int]] | None:
    """``{name: (start_ns, end_ns)}`` of one shift: a name of ``DEFAULT_SHIFTS``, ``"HH:MM-HH:MM"``
    or ``(start, end)``; None for no shift."""
    if shift is None or (isinstance(shift, str) and shift.strip().lower() in ("", "all")):
        return None
    if isinstance(shift, str) and shift in DEFAULT_SHIFTS:
        return parse_shifts({shift: DEFAULT_SHIFTS[shift]})
    if isinstance(shift, tuple):
        return parse_shifts({f"{shift[0]}-{shift[1]}": shift})
    if isinstance(shift, str) and "-" in shift:
        return parse_shifts(shift.strip())
    raise InputError(f"invalid shift {shift!r}; use HH:MM-HH:MM, 'day' or 'night'")


def _longest_shift_s(window: dict[str, tuple[int, int]], p0: int, p1: int) -> float:
    """Longest occurrence (s) of the shift inside the period ``[p0, p1)`` (ns)."""
    ((a, b),) = window.values()
    b = b if b > a else b + _DAY_NS
    d0 = (p0 // _DAY_NS) * _DAY_NS - _DAY_NS
    days = np.arange(d0, p1 + _DAY_NS, _DAY_NS, dtype=np.int64)
    length = np.minimum(days + b, p1) - np.maximum(days + a, p0)
    return float(max(length.max(initial=0), 0) / _NS)


def in_shift(t, shift) -> np.ndarray:
    """Whether each time (naive local) lies in the shift (all True for no shift)."""
    ns = _t_ns(pd.Series(t).reset_index(drop=True))
    window = _shift_window(shift)
    if window is None:
        return np.ones(len(ns), dtype=bool)
    return _shift_index(ns, window)[0] >= 0


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
        A grid layer (its micro-grids) or other polygon layer, ``"h3:<res>"``, or ``"streets"``
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
    window = _shift_window(shift)
    kind = "streets" if isinstance(units, str) and units.strip().lower() == "streets" else None
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
            shifts={k: _fmt_window(v) for k, v in window.items()},
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
                    "unit_id": _ids_str(sc["street_id"].to_numpy()),
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
    empty_gap = _longest_shift_s(window, p0n, p1n) if window else (p1n - p0n) / _NS
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


def _fmt_window(v: tuple[int, int]) -> tuple[str, str]:
    def clock(ns: int) -> str:
        s = int(ns // _NS)
        return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"

    return clock(v[0]), clock(v[1])


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
    from gis import hotspots as hs

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


def staff_summary(
    staff: pd.DataFrame,
    staff_presence: pd.DataFrame,
    grids: pd.DataFrame,
    unpatrolled: pd.DataFrame,
) -> pd.DataFrame:
    """One row per staff member: their grid, the micro-grids they answer for, and their patrols.

    Parameters
    ----------
    staff
        ``staff_code, name, role, grid_code`` (the members to list).
    staff_presence
        ``presence(samples, grids, by=("unit", "staff"))`` over micro-grids.
    grids
        The grid layer (``code, name, level, parent_code``).
    unpatrolled
        ``GapReport.staff_unpatrolled`` for the same period.

    Returns
    -------
    pandas.DataFrame
        ``staff_code, name, role, grid_code, grid_name, micro_grids`` (responsible micro-grids:
        ``grid_code`` and below), ``patrolled`` (of those, visited by the member),
        ``unpatrolled``, ``visits`` (entries into any micro-grid), ``dwell_s`` (time in the
        district's micro-grids), ``own_dwell_s`` (time in their own micro-grids).
    """
    from gis.grids import descendants

    micro = set(grids.loc[grids["level"] == "micro", "code"].astype(str))
    names = dict(zip(grids["code"].astype(str), grids["name"], strict=False))
    pres = staff_presence
    rows = []
    gone = unpatrolled.groupby("staff_code").size() if len(unpatrolled) else pd.Series(dtype=int)
    for rec in staff.itertuples(index=False):
        code = getattr(rec, "grid_code", None)
        mine = descendants(str(code), grids) & micro if code is not None and code == code else set()
        own = pres[pres["staff_code"] == rec.staff_code]
        inside = own["unit_id"].astype(str).isin(mine)
        n_un = int(gone.get(rec.staff_code, 0))
        rows.append(
            {
                "staff_code": rec.staff_code,
                "name": getattr(rec, "name", None),
                "role": getattr(rec, "role", None),
                "grid_code": code,
                "grid_name": names.get(str(code)),
                "micro_grids": len(mine),
                "patrolled": len(mine) - n_un,
                "unpatrolled": n_un,
                "visits": int(own["visits"].sum()),
                "dwell_s": float(own["dwell_s"].sum()),
                "own_dwell_s": float(own.loc[inside, "dwell_s"].sum()),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "staff_code",
            "name",
            "role",
            "grid_code",
            "grid_name",
            "micro_grids",
            "patrolled",
            "unpatrolled",
            "visits",
            "dwell_s",
            "own_dwell_s",
        ],
    )


def route_for_staff(
    ranked: pd.DataFrame,
    staff_code: str,
    staff: pd.DataFrame,
    grids: gpd.GeoDataFrame,
    *,
    budget_s: float = 5400.0,
    streets: gpd.GeoDataFrame | None = None,
    max_stops: int = 12,
    dwell_s: float = 600.0,
    speed_mps: float = 1.2,
    start_xy: tuple[float, float] | None = None,
) -> Route:
    """A suggested route for one staff member through the top gaps of their micro-grids.

    Candidates are the member's responsible micro-grids (``grid_code`` and below) with a
    positive ``gap_score`` in ``ranked`` (``coverage_gaps(...).ranked`` over micro-grids), the
    ``max_stops`` highest; each stop is the grid's point on surface. The route starts at
    ``start_xy`` (default: the point on surface of the member's own grid) and is planned by
    ``suggest_route`` (street network when ``streets`` is given) within ``budget_s``.
    """
    from gis.grids import descendants

    row = staff.loc[staff["staff_code"] == staff_code]
    if row.empty:
        raise InputError(f"unknown staff member {staff_code!r}")
    code = row["grid_code"].iloc[0]
    if code is None or pd.isna(code):
        raise InputError(f"staff member {staff_code!r} has no grid")
    micro = grids[grids["level"] == "micro"] if "level" in grids else grids
    mine = descendants(str(code), grids) & set(micro["code"].astype(str))
    cand = ranked[ranked["unit_id"].astype(str).isin(mine) & (ranked["gap_score"] > 0)]
    cand = cand.sort_values(["gap_score", "unit_id"], ascending=[False, True]).head(max_stops)
    geo = micro.set_index(micro["code"].astype(str)).geometry
    stops = gpd.GeoDataFrame(
        {"unit_id": cand["unit_id"].astype(str).to_numpy(), "score": cand["gap_score"].to_numpy()},
        geometry=geo.reindex(cand["unit_id"].astype(str)).to_numpy(),
        crs=4326,
    )
    if start_xy is None:
        home = grids.loc[grids["code"].astype(str) == str(code)].geometry
        pt = shapely.point_on_surface(home.iloc[0]) if len(home) else None
        if pt is None:
            raise InputError(f"grid {code} of {staff_code} is not in the grid layer")
        start_xy = (pt.x, pt.y)
    return suggest_route(
        start_xy, stops, budget_s=budget_s, speed_mps=speed_mps, dwell_s=dwell_s, streets=streets
    )


@dataclass
class TrackData:
    """Cleaned fixes and what the coverage functions read: ``clean`` (``CleanResult``),
    ``samples`` (``interpolate``) and ``segs`` (``segments``)."""

    clean: CleanResult
    samples: gpd.GeoDataFrame
    segs: gpd.GeoDataFrame


def track_data(
    fixes: gpd.GeoDataFrame,
    *,
    district=None,
    max_speed_mps: float = CYCLE_MAX_SPEED_MPS,
    split_gap_s: float = 600.0,
    step_s: float = 15.0,
) -> TrackData:
    """``clean_fixes`` then ``interpolate`` (every ``step_s`` seconds) and ``segments``: the
    pipeline the CLI and the Patrol page run on fixes from the store or a file."""
    clean = clean_fixes(
        fixes, max_speed_mps=max_speed_mps, district=district, split_gap_s=split_gap_s
    )
    return TrackData(clean, interpolate(clean.fixes, step_s=step_s), segments(clean.fixes))


def default_period(fixes: pd.DataFrame) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Whole days around the fixes: midnight before the first, midnight after the last."""
    if not len(fixes):
        raise InputError("no patrol fixes in the period")
    t = pd.to_datetime(fixes["t"])
    first, last = t.min().floor("D"), t.max().floor("D") + pd.Timedelta(days=1)
    return first, last


@dataclass
class PatrolView:
    """What the Patrol page and ``gridlens gaps`` show for one period, shift and kind of unit.

    ``coverage``: ``coverage_table``; ``risk``: ``unit_risk``; ``gaps``: ``coverage_gaps``
    (``staff_unpatrolled`` filled when staff were given); ``staff``: ``staff_summary`` (None
    without staff); ``period``: (start, end)."""

    units: str
    coverage: pd.DataFrame
    risk: pd.DataFrame
    gaps: GapReport
    staff: pd.DataFrame | None
    period: tuple[pd.Timestamp, pd.Timestamp]


def patrol_view(
    samples: gpd.GeoDataFrame,
    grids: gpd.GeoDataFrame,
    incidents: pd.DataFrame,
    *,
    units: str = "grid:micro",
    streets: gpd.GeoDataFrame | None = None,
    segs: gpd.GeoDataFrame | None = None,
    staff: pd.DataFrame | None = None,
    start=None,
    end=None,
    shift=None,
    area=None,
) -> PatrolView:
    """Coverage, risk and ranked gaps for ``units`` (``grid:micro`` or ``h3:<res>``).

    ``incidents`` should already be those of the period (and the categories chosen): the risk
    is their density and Gi* bin per unit (``unit_risk``) on the same units. H3 units are the
    cells of ``area`` (default: the union of the level-1 grids, else of all grids). With
    ``staff`` (``staff_code, name, role, grid_code``), the micro-grids each member answers for
    and did not patrol, and ``staff_summary``.
    """
    from gis import hotspots as hs

    spec = units.strip().lower()
    if spec in ("grid:micro", "micro", "grid"):
        kind, unit_arg = "grid:micro", grids
        units_frame = hs.grid_units(grids, "micro")
        all_units = None
    else:
        k, res = parse_units(spec)
        if k != "h3":
            raise InputError(f"units must be grid:micro or h3:<res>, got {units!r}")
        kind, unit_arg = f"h3:{res}", f"h3:{res}"
        if area is None:
            l1 = grids[grids["level"] == "l1"] if "level" in grids else grids
            area = shapely.union_all((l1 if len(l1) else grids).geometry.to_numpy())
        units_frame = hs.h3_units(area, int(res))
        all_units = units_frame["unit_id"].to_numpy()
    cov = coverage_table(
        samples,
        unit_arg,
        streets=streets,
        segs=segs,
        all_units=all_units,
        start=start,
        end=end,
        shift=shift,
    )
    period = cov.attrs["period"]
    risk = unit_risk(incidents, units_frame)
    report = coverage_gaps(cov, risk, grids=grids if kind == "grid:micro" else None, period=period)
    table = None
    if staff is not None:
        window = _shift_window(shift)
        if window is not None:
            sp = presence(
                samples,
                grids,
                by=("unit", "staff", "shift"),
                shifts={k: _fmt_window(v) for k, v in window.items()},
                start=period[0],
                end=period[1],
            ).drop(columns="shift")
        else:
            sp = presence(samples, grids, by=("unit", "staff"), start=period[0], end=period[1])
        if kind == "grid:micro":
            micro_rank = report.ranked
        else:
            micro_cov = coverage_table(samples, grids, start=period[0], end=period[1], shift=shift)
            micro_risk = unit_risk(incidents, hs.grid_units(grids, "micro"))
            micro_rank = coverage_gaps(micro_cov, micro_risk, period=period).ranked
        micro_risk_tbl = micro_rank[["unit_id", "risk", "gap_score"]]
        per_staff = coverage_gaps(
            sp, micro_risk_tbl.drop(columns="gap_score"), staff=staff, grids=grids, period=period
        )
        unpatrolled = per_staff.staff_unpatrolled
        if len(unpatrolled):  # scores of the unit ranking (all staff together), not per member
            score = dict(zip(micro_rank["unit_id"], micro_rank["gap_score"], strict=True))
            unpatrolled = unpatrolled.assign(gap_score=unpatrolled["unit_id"].map(score))
            unpatrolled = unpatrolled.sort_values(
                ["staff_code", "gap_score"], ascending=[True, False], na_position="last"
            ).reset_index(drop=True)
        report = GapReport(report.ranked, report.unvisited, unpatrolled)
        table = staff_summary(staff, sp, grids, unpatrolled)
    return PatrolView(kind, cov, risk, report, table, period)


# --------------------------------------------------------------------------------------------
# Store: importing tracks (the only function here that touches the database)
# --------------------------------------------------------------------------------------------
ALREADY_IMPORTED = "already imported (same staff and time in the store)"


@dataclass
class TrackImportResult:
    """What ``import_tracks`` did: ``total = imported + len(dropped)`` always.

    ``dropped`` holds the dropped fixes (the file's columns, ``row`` -- 1-based position in the
    file's rows -- ``lon, lat`` and ``reason``); ``summary`` is ``clean_fixes``'s plus
    ``already_imported``; ``tracks`` the ``patrol_tracks`` rows written.
    """

    total: int
    imported: int
    dropped: pd.DataFrame = field(repr=False)
    tracks: pd.DataFrame = field(repr=False)
    summary: dict = field(default_factory=dict)
    batch_id: int | None = None
    file_name: str | None = None

    @property
    def reasons(self) -> pd.Series:
        """Dropped fixes per reason, largest first."""
        if not len(self.dropped):
            return pd.Series(dtype=int)
        return self.dropped["reason"].value_counts()

    def summary_line(self) -> str:
        """``N imported + M rejected = T total (reason: n; ...)``."""
        from gis.io import accounting_line

        return accounting_line(self.imported, self.dropped, self.total)


def _track_rows(kept: gpd.GeoDataFrame) -> pd.DataFrame:
    """One ``patrol_tracks`` row per cleaned track: code ``STAFF/YYYYmmddTHHMMSS`` of its start,
    the default shift its start falls in (``morning`` 09:00-19:00, ``evening`` otherwise)."""
    g = kept.groupby("track_id", sort=True)
    tr = pd.DataFrame(
        {
            "staff_code": g["staff_code"].first(),
            "started_at": g["t"].min(),
            "ended_at": g["t"].max(),
        }
    ).reset_index()
    tr["track_code"] = [
        f"{s}/{t:%Y%m%dT%H%M%S}" for s, t in zip(tr["staff_code"], tr["started_at"], strict=True)
    ]
    idx, _ = _shift_index(_t_ns(tr["started_at"]), parse_shifts(DEFAULT_SHIFTS))
    tr["shift"] = np.where(idx == 0, "morning", "evening")
    return tr


def import_tracks(
    engine,
    path: str | Path,
    *,
    crs: str | int | None = "wgs84",
    tz: str | None = None,
    mapping: Mapping[str, str] | None = None,
    staff_code: str | None = None,
    imported_by: str = "cli",
    max_speed_mps: float = CYCLE_MAX_SPEED_MPS,
    split_gap_s: float = 600.0,
    tolerance_m: float = GPS_ACCURACY_M,
    dropped_out: str | Path | None = None,
) -> TrackImportResult:
    """Import a GPS track file into ``patrol_tracks`` + ``patrol_fixes`` in one transaction.

    The file is read with ``read_tracks`` and cleaned with ``clean_fixes`` (the district is
    the union of the current level-1 grids in the store, ``tolerance_m`` outside it allowed;
    no district check when the store has no grids). Kept fixes whose staff member already
    has a fix at the same time in the store are dropped as ``already imported``, so importing
    a file twice adds nothing. Each cleaned track becomes a ``patrol_tracks`` row (code
    ``STAFF/YYYYmmddTHHMMSS`` of its first fix; a numeric suffix if taken). An
    ``import_batches`` row (kind ``tracks``) records the counts and reasons. Every fix is
    accounted for: ``imported + dropped = total``.

    Parameters
    ----------
    engine
        The store (``gis.store.open_store``).
    path, crs, tz, mapping, staff_code
        See ``read_tracks``.
    max_speed_mps, split_gap_s
        See ``clean_fixes`` (7 m/s cycling by default; 2.5 for foot patrols).
    dropped_out
        CSV for the dropped fixes with their reasons (UTF-8 with BOM, opens in Excel).
    """
    import json
    from datetime import datetime

    import sqlalchemy as sa

    from gis.store import read_frame, read_grids, save_frame

    path = Path(path)
    fixes = read_tracks(path, crs=crs, tz=tz, mapping=mapping, staff_code=staff_code)
    grids = read_grids(engine)
    l1 = grids[grids["level"] == "l1"] if len(grids) else grids
    district = (l1 if len(l1) else grids) if len(grids) else None
    res = clean_fixes(
        fixes,
        max_speed_mps=max_speed_mps,
        district=district,
        tolerance_m=tolerance_m,
        split_gap_s=split_gap_s,
    )
    kept = res.fixes
    # already in the store: same staff member at the same time
    dup = np.zeros(len(kept), dtype=bool)
    if len(kept):
        staff_codes = sorted(set(kept["staff_code"]))
        names = ", ".join(f":s{i}" for i in range(len(staff_codes)))
        params = {f"s{i}": c for i, c in enumerate(staff_codes)}
        params["a"] = kept["t"].min().to_pydatetime()
        params["b"] = kept["t"].max().to_pydatetime()
        old = read_frame(
            engine,
            "patrol_fixes",
            columns=["staff_code", "t"],
            where=f"t >= :a AND t <= :b AND staff_code IN ({names})",
            params=params,
        )
        if len(old):
            key = pd.MultiIndex.from_arrays(
                [old["staff_code"].astype(str), pd.to_datetime(old["t"]).astype("datetime64[ns]")]
            )
            mine = pd.MultiIndex.from_arrays(
                [kept["staff_code"].astype(str), kept["t"].astype("datetime64[ns]")]
            )
            dup = mine.isin(key)
    dropped = res.dropped
    if dup.any():
        again = pd.DataFrame(kept.loc[dup].drop(columns=kept.geometry.name))
        g = kept.geometry.to_numpy()[dup]
        again["lon"], again["lat"] = shapely.get_x(g), shapely.get_y(g)
        again["reason"] = ALREADY_IMPORTED
        again = again.drop(columns=["track_id"], errors="ignore")
        dropped = pd.concat([dropped, again])
        kept = kept.loc[~dup]
    dropped = dropped.sort_index()
    dropped.insert(0, "row", dropped.index.to_numpy() + 1)
    tracks = _track_rows(kept) if len(kept) else pd.DataFrame(columns=["track_id", "track_code"])
    total = len(fixes)
    if len(kept) + len(dropped) != total:  # pragma: no cover - an invariant of clean_fixes
        raise InputError(f"{path}: {len(kept)} kept + {len(dropped)} dropped != {total} fixes")
    summary = dict(res.summary)
    summary["already_imported"] = int(dup.sum())
    summary["tracks_written"] = len(tracks)
    result = TrackImportResult(
        total=total,
        imported=len(kept),
        dropped=dropped.reset_index(drop=True),
        tracks=tracks,
        summary=summary,
        file_name=path.name,
    )
    details = {
        "reasons": result.reasons.to_dict(),
        "tracks": len(tracks),
        "splits_gap": summary["splits_gap"],
        "splits_jump": summary["splits_jump"],
        "crs": str(crs),
        "max_speed_mps": max_speed_mps,
        "split_gap_s": split_gap_s,
    }
    with engine.begin() as conn:
        batch = conn.execute(
            sa.text(
                "INSERT INTO import_batches (kind, file_name, imported_by, imported_at, total,"
                " imported, rejected, details) VALUES ('tracks', :f, :by, :at, :t, :i, :r, :d)"
            ),
            {
                "f": path.name,
                "by": imported_by,
                "at": datetime.now().replace(microsecond=0),
                "t": result.total,
                "i": result.imported,
                "r": len(result.dropped),
                "d": json.dumps(details, ensure_ascii=False, default=str),
            },
        )
        result.batch_id = batch.lastrowid if conn.dialect.name != "postgresql" else None
        if result.batch_id is None:
            result.batch_id = conn.execute(sa.text("SELECT max(id) FROM import_batches")).scalar()
        if len(tracks):
            taken = set(
                conn.execute(
                    sa.text("SELECT track_code FROM patrol_tracks WHERE track_code LIKE :p"),
                    {"p": "%/%"},
                ).scalars()
            )
            codes = []
            for code in tracks["track_code"]:
                final, k = code, 1
                while final in taken:
                    k += 1
                    final = f"{code}-{k}"
                taken.add(final)
                codes.append(final)
            tracks["track_code"] = codes
            save_frame(
                conn,
                "patrol_tracks",
                tracks[["track_code", "staff_code", "shift", "started_at", "ended_at"]],
            )
            ids = pd.read_sql(sa.text("SELECT id, track_code FROM patrol_tracks"), conn).set_index(
                "track_code"
            )["id"]
            db_id = tracks.set_index("track_id")["track_code"].map(ids)
            out = gpd.GeoDataFrame(
                {
                    "track_id": kept["track_id"].map(db_id).astype("int64").to_numpy(),
                    "staff_code": kept["staff_code"].astype(str).to_numpy(),
                    "t": kept["t"].astype("datetime64[ns]").to_numpy(),
                },
                geometry=kept.geometry.to_numpy(),
                crs=4326,
            )
            save_frame(conn, "patrol_fixes", out)
    if dropped_out is not None and len(result.dropped):
        Path(dropped_out).parent.mkdir(parents=True, exist_ok=True)
        result.dropped.to_csv(dropped_out, index=False, encoding="utf-8-sig")
    return result


def h3_cells_within(cells: Iterable[str], area: shapely.Geometry) -> np.ndarray:
    """Whether the centre of each H3 cell lies in ``area`` (EPSG:4326): a grid's cells."""
    import h3

    cells = list(cells)
    if not cells:
        return np.zeros(0, dtype=bool)
    latlng = np.array([h3.cell_to_latlng(c) for c in cells], dtype=float)
    shapely.prepare(area)
    return shapely.contains_xy(area, latlng[:, 1], latlng[:, 0])
