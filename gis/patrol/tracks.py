"""Reading GPS track files: CSV/TXT (also compressed), GPX, GeoJSON/GeoPackage and GeoLife
``.plt``, into fix frames (``staff_code, [track_code], t, geometry`` in EPSG:4326)."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.core import settings
from gis.core.coords import to_wgs84
from gis.core.errors import InputError
from gis.core.times import parse_times
from gis.io import (
    COMPRESSED_SUFFIXES,
    TRACK_FIELDS,
    decompress,
    detect_columns,
    detect_encoding,
    read_geo_file,
)


def _track_columns(columns, sample: pd.DataFrame | None, mapping: Mapping[str, str]):
    """The file columns of ``staff_code, track_code, t, lon, lat``: ``gis.io.columns``'s guess
    (``TRACK_FIELDS``), then the caller's ``mapping`` on top."""
    found = detect_columns(list(columns), sample, schema=TRACK_FIELDS)
    return found.with_overrides(mapping, [str(c) for c in columns])


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
        gx, gy = to_wgs84(x[ok], y[ok], crs)
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
    if suffix in COMPRESSED_SUFFIXES:  # bounded: no decompression bomb
        raw = decompress(path.read_bytes(), path.name)
    else:
        raw = path.read_bytes()
    text = raw.decode(detect_encoding(raw, str(path)))
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
        ``.csv``/``.txt``/``.tsv`` (optionally ``.gz``): lon/lat/time/id columns found by
        ``gis.io.columns.detect_columns`` with ``TRACK_FIELDS`` (``lon, lng, longitude, 经度``;
        ``lat, 纬度``; ``time, datetime, timestamp, 时间``; ``staff_code, uid, device_id,
        tracker, 人员, 工号``; ``track_code, trajectory_id, 轨迹``) -- this includes the
        scikit-mobility GeoLife sample (``lat, lng, datetime, uid``). ``.gpx`` (xml.etree; the
        track name is the id), ``.geojson``/``.gpkg`` (points, via ``gis.io.read_geo_file``),
        ``.plt`` (GeoLife; the id is the user folder above ``Trajectory`` or the file stem).
    crs
        Coordinate system of the file's coordinates: ``"wgs84"`` (also CGCS2000), ``"gcj02"``,
        ``"bd09"`` or an EPSG code; converted to WGS-84 with ``gis.core.coords.to_wgs84``.
    tz
        Time zone of times written without an offset. Default: UTC for GPX and GeoLife (both
        record GMT), the district's zone (``settings.DISTRICT_TZ``, ``GRIDLENS_TZ``)
        otherwise. Times are parsed by ``gis.core.times.parse_times``: output times are naive
        wall-clock times in the district's zone, like the store's incidents; offsets are
        converted.
    mapping
        ``{"lon"|"lat"|"t"|"staff_code"|"track_code": file column}`` to override detection
        (``time``, ``staff``, ``track`` and ``lng`` are accepted as field names too).
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
        text = table["date"].str.strip() + " " + table["time"].str.strip()
        t = parse_times(text, source_tz=tz or "UTC")
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
            parse_times(table["time"], source_tz=tz or "UTC"),
            pd.to_numeric(table["lon"], errors="coerce").to_numpy(),
            pd.to_numeric(table["lat"], errors="coerce").to_numpy(),
            crs=crs,
            track=table["track_code"],
        )
    if suffix in (".geojson", ".json", ".gpkg", ".shp", ".fgb", ".parquet"):
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
        table = frame.drop(columns=frame.geometry.name)
        cols = _track_columns(table.columns, table.head(200), mapping)
        if "t" not in cols:
            raise InputError(f"{path}: no time field; name it with mapping={{'t': ...}}")
        id_col, tr_col = cols.get("staff_code"), cols.get("track_code")
        ids = frame[id_col] if id_col else [default_id] * len(frame)
        return _frame(
            ids,
            parse_times(frame[cols["t"]], source_tz=tz or settings.DISTRICT_TZ),
            x,
            y,
            crs=crs,
            track=frame[tr_col] if tr_col else None,
        )
    if suffix in (".csv", ".txt", ".tsv"):
        table = _read_csv(path)
        cols = _track_columns(table.columns, table.head(200), mapping)
        missing = [n for n in ("lon", "lat", "t") if n not in cols]
        if missing:
            raise InputError(
                f"{path}: no {'/'.join(missing)} column found among {list(table.columns)[:12]}; "
                "name them with mapping={'lon': ..., 'lat': ..., 't': ...}"
            )
        id_col, tr_col = cols.get("staff_code"), cols.get("track_code")
        skmob = {str(c).lower() for c in table.columns} == {"lat", "lng", "datetime", "uid"}
        # the GeoLife sample records GMT; other files the district's wall clock
        default_tz = "UTC" if skmob else settings.DISTRICT_TZ
        return _frame(
            table[id_col] if id_col else [default_id] * len(table),
            parse_times(table[cols["t"]], source_tz=tz or default_tz),
            pd.to_numeric(table[cols["lon"]], errors="coerce").to_numpy(),
            pd.to_numeric(table[cols["lat"]], errors="coerce").to_numpy(),
            crs=crs,
            track=table[tr_col] if tr_col else None,
        )
    raise InputError(
        f"{path}: unsupported track file {suffix!r}; use CSV, GPX, GeoJSON, GeoPackage or .plt"
    )


def _is_chinese_web_crs(crs: str | int | None) -> bool:
    key = str(crs or "").strip().lower().replace("-", "").replace("_", "")
    return key in ("gcj02", "gcj", "mars", "amap", "gaode", "bd09", "bd09ll", "baidu")
