"""Files in and out of the app: an upload as a file on disk (a zipped Shapefile unpacked), the
grids and the incidents as download files."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
import zipfile
from pathlib import Path

import pandas as pd

from gis.core.errors import InputError
from gis.grids import descendants, export_grids
from gis.incidents import export_incident_pages, stored_export_pages
from gis.io import extract_zip, neutralize_formulas
from gis.ui.cache import engine, grids

#: grid export formats: label -> (file suffix, MIME type)
GRID_EXPORT_FORMATS = {
    "GeoJSON": (".geojson", "application/geo+json"),
    "GeoPackage": (".gpkg", "application/geopackage+sqlite3"),
    "Shapefile (zip)": (".zip", "application/zip"),
    "Excel (WKT)": (".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "CSV (WKT)": (".csv", "text/csv"),
}

#: incident export formats: label -> (file suffix, MIME type)
INCIDENT_EXPORT_FORMATS = {
    "CSV": (".csv", "text/csv"),
    "Excel": (".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "GeoJSON": (".geojson", "application/geo+json"),
    "GeoPackage": (".gpkg", "application/geopackage+sqlite3"),
}

#: what a zip upload may hold, in order of preference
_ZIP_MEMBERS = (".shp", ".gpkg", ".geojson", ".json", ".csv", ".xlsx")


def uploaded_file(upload) -> Path:
    """Write a Streamlit upload to a temporary file that keeps its name (the suffix picks the
    reader); the same upload gives the same path, so reruns do not pile up copies."""
    data = upload.getvalue()
    root = Path(tempfile.gettempdir()) / "gridlens_uploads"
    prune_uploads(root)
    folder = root / hashlib.sha256(data).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    os.utime(folder)  # in use: kept by the next pruning
    path = folder / Path(upload.name).name
    if not path.exists():
        path.write_bytes(data)
    if path.suffix.lower() == ".zip":  # a zipped Shapefile (or one GeoPackage/GeoJSON/CSV)
        return _unzipped(path)
    return path


#: uploads older than this (seconds since last use) are deleted at the next upload
UPLOAD_MAX_AGE_S = 24 * 3600


def prune_uploads(root: Path, max_age_s: float = UPLOAD_MAX_AGE_S) -> int:
    """Delete the upload folders under ``root`` not used for ``max_age_s`` seconds; returns
    how many were deleted (uploads must not pile up in the temporary folder)."""
    if not root.exists():
        return 0
    limit = time.time() - max_age_s
    gone = 0
    for folder in root.iterdir():
        if folder.is_dir() and folder.stat().st_mtime < limit:
            shutil.rmtree(folder, ignore_errors=True)
            gone += 1
    return gone


def _unzipped(path: Path) -> Path:
    """Extract ``path`` beside itself; the Shapefile (else other data file) inside it."""
    out = path.parent / "unzipped"
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/") and "__MACOSX" not in n]
            if not out.exists():  # flat (no path escapes), bounded (no zip bomb)
                try:
                    extract_zip(path, out, names)
                except InputError:
                    shutil.rmtree(out, ignore_errors=True)
                    raise
    except zipfile.BadZipFile as exc:
        raise InputError(f"{path.name}: not a readable zip file") from exc
    for suffix in _ZIP_MEMBERS:
        found = sorted(p for p in out.iterdir() if p.suffix.lower() == suffix)
        if found:
            return found[0]
    raise InputError(f"{path.name}: no .shp, .gpkg, .geojson, .csv or .xlsx inside")


def grid_export(fmt: str, level: str | None) -> tuple[bytes, str, str]:
    """The current grids (optionally one level) as a file: ``(bytes, file name, MIME type)``."""
    suffix, mime = GRID_EXPORT_FORMATS[fmt]
    frame = grids()
    if level:
        frame = frame[frame["level"] == level]
    name = f"grids_{level or 'all'}{suffix}"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        if suffix == ".zip":  # a Shapefile is several files: send them zipped
            shp = export_grids(frame, Path(tmp) / "shp" / f"grids_{level or 'all'}.shp")
            with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
                for part in sorted(shp.parent.iterdir()):
                    zf.write(part, part.name)
        else:
            export_grids(frame, path)
        return path.read_bytes(), name, mime


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """``frame`` as a CSV download: UTF-8 with BOM (Excel opens it right), no index, and no
    text that a spreadsheet would run as a formula (``gis.io.neutralize_formulas``)."""
    return neutralize_formulas(frame).to_csv(index=False).encode("utf-8-sig")


def incidents_file(
    start,
    end,
    categories: tuple,
    sources: tuple,
    grid_code: str | None,
    fmt: str,
    crs: str,
    language: str,
    taxonomy: pd.DataFrame,
) -> bytes:
    """The stored incidents in the sidebar's filters (``start <= occurred_at < end``, THE
    category rule, sources, a grid of any level) as an export file, streamed from the store page
    by page (``incidents.stored_export_pages``: CSV and GeoPackage hold one page in memory;
    Excel and GeoJSON gather only the selection): coordinates in ``crs`` (``wgs84``/``gcj02``),
    category names in ``language``. No Streamlit call: usable as a deferred download."""
    suffix, _ = INCIDENT_EXPORT_FORMATS[fmt]
    micros = tuple(sorted(descendants(grid_code, grids()))) if grid_code else None
    pages = stored_export_pages(
        engine(), start=start, end=end, categories=categories, sources=sources, micros=micros
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"incidents{suffix}"
        export_incident_pages(pages, path, crs=crs, lang=language, taxonomy=taxonomy)
        return path.read_bytes()
