"""Reading and writing exchange files: GeoJSON, GeoPackage, Shapefile, GeoParquet, CSV, Excel.

CSV and Excel carry points as lon/lat columns or any geometry as a WKT column. Vector files in
any CRS are reprojected to EPSG:4326. Errors name the file and the problem.
"""

from __future__ import annotations

import codecs
import csv
import ctypes
import gzip
import io
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyogrio
import shapely

from gis.core.errors import InputError
from gis.core.settings import STORAGE_EPSG
from gis.io.columns import detect_columns

VECTOR_SUFFIXES = {".geojson", ".json", ".gpkg", ".shp", ".fgb"}
TABLE_SUFFIXES = {".csv", ".txt", ".tsv", ".xlsx", ".xls"}


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV (delimiter sniffed; UTF-8, UTF-8 BOM or GB18030) or Excel file as strings."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix in {".xlsx", ".xls"}:
            return pd.read_excel(path, dtype=str)
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                return pd.read_csv(
                    path,
                    dtype=str,
                    sep=None,
                    engine="python",
                    encoding=encoding,
                    keep_default_na=False,
                    na_values=[""],
                )
            except UnicodeDecodeError:
                continue
        raise InputError(f"{path}: text is neither UTF-8 nor GB18030")
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{path}: cannot read as a table ({exc})") from exc


def read_geo_file(
    path: str | Path,
    *,
    lon: str | None = None,
    lat: str | None = None,
    wkt: str | None = None,
    crs: str | int | None = None,
) -> tuple[gpd.GeoDataFrame, pd.Series]:
    """Read a vector or tabular file into a GeoDataFrame in EPSG:4326.

    Parameters
    ----------
    path
        GeoJSON, GeoPackage, Shapefile, FlatGeobuf, GeoParquet, CSV/TSV or Excel.
    lon, lat, wkt
        Column names for a table; found automatically among common names when omitted.
    crs
        CRS of a table's coordinates (default EPSG:4326) or of a vector file that declares none.

    Returns
    -------
    (GeoDataFrame, Series)
        The rows (geometry None where it could not be read) and, per row, the reason the
        geometry is missing or invalid (empty string when fine). No row is dropped.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in VECTOR_SUFFIXES or suffix == ".parquet":
        try:
            if suffix == ".parquet":
                frame = gpd.read_parquet(path)
            else:
                frame = pyogrio.read_dataframe(path)
        except Exception as exc:
            raise InputError(f"{path}: cannot read as a vector file ({exc})") from exc
        if frame.crs is None:
            frame = frame.set_crs(crs or STORAGE_EPSG)
        geoms = frame.geometry.to_numpy()
        reason = np.where(shapely.is_missing(geoms), "no geometry", "")
        reason = np.where((reason == "") & shapely.is_empty(geoms), "empty geometry", reason)
        frame = frame.to_crs(STORAGE_EPSG) if frame.crs.to_epsg() != STORAGE_EPSG else frame
        return frame, pd.Series(reason, index=frame.index)
    if suffix not in TABLE_SUFFIXES:
        raise InputError(
            f"{path}: unsupported file type {suffix!r}; use GeoJSON, GeoPackage, Shapefile, "
            "GeoParquet, CSV or Excel"
        )
    table = read_table(path)
    found = detect_columns(table.columns, table.head(200))
    wkt = wkt or found.get("wkt")
    lon = lon or found.get("lon")
    lat = lat or found.get("lat")
    reason = pd.Series("", index=table.index, dtype=object)
    if wkt and wkt in table:
        text = table[wkt]
        geoms = shapely.from_wkt(text.to_numpy(dtype=object), on_invalid="ignore")
        reason[text.isna()] = "no geometry"
        reason[text.notna() & shapely.is_missing(geoms)] = "unreadable WKT"
        table = table.drop(columns=[wkt])
    elif lon and lat and lon in table and lat in table:
        x = pd.to_numeric(table[lon], errors="coerce")
        y = pd.to_numeric(table[lat], errors="coerce")
        raw_missing = table[lon].isna() | table[lat].isna()
        reason[raw_missing] = "no coordinates"
        reason[~raw_missing & (x.isna() | y.isna())] = "coordinates are not numbers"
        ok = x.notna() & y.notna()
        if crs in (None, STORAGE_EPSG, f"EPSG:{STORAGE_EPSG}", 4490, "EPSG:4490"):
            out_of_range = ok & ((x.abs() > 180) | (y.abs() > 90))
            reason[out_of_range] = "coordinates out of range"
            ok &= ~out_of_range
            zero = ok & (x == 0) & (y == 0)
            reason[zero] = "coordinates are 0,0"
            ok &= ~zero
        geoms = np.full(len(table), None, dtype=object)
        geoms[ok.to_numpy()] = shapely.points(x[ok].to_numpy(), y[ok].to_numpy())
    else:
        raise InputError(
            f"{path}: no geometry columns found; expected lon/lat (e.g. lon, lng, longitude, 经度"
            " / lat, latitude, 纬度) or a WKT column; name them with --lon/--lat/--wkt"
        )
    frame = gpd.GeoDataFrame(table, geometry=list(geoms), crs=crs or STORAGE_EPSG)
    if frame.crs.to_epsg() != STORAGE_EPSG:
        frame = frame.to_crs(STORAGE_EPSG)
    return frame, reason


def write_geo_file(
    frame: gpd.GeoDataFrame, path: str | Path, *, layer: str | None = None, append: bool = False
) -> Path:
    """Write ``frame`` by the file's suffix: vector formats, GeoParquet, or CSV/Excel.

    Points go to CSV/Excel as ``lon, lat`` columns, other geometries as a ``wkt`` column.
    Datetimes are written as ISO text. ``append`` adds the rows to a file this function wrote
    with the same columns (CSV and GeoPackage only: an export written page by page).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    try:
        if suffix in {".geojson", ".json", ".gpkg", ".shp", ".fgb"}:
            out = frame.copy()
            for col in out.columns:
                if pd.api.types.is_datetime64_any_dtype(out[col]):
                    out[col] = out[col].dt.strftime("%Y-%m-%dT%H:%M:%S").astype(object)
            if append and suffix != ".gpkg":
                raise InputError(f"{path}: only CSV and GeoPackage files are appended to")
            pyogrio.write_dataframe(out, path, layer=layer, append=append)
        elif suffix == ".parquet":
            if append:
                raise InputError(f"{path}: only CSV and GeoPackage files are appended to")
            frame.to_parquet(path)
        elif suffix in {".csv", ".xlsx"}:
            table = pd.DataFrame(frame.drop(columns=frame.geometry.name))
            geoms = frame.geometry.to_numpy()
            if len(geoms) and (shapely.get_type_id(geoms[~shapely.is_missing(geoms)]) == 0).all():
                table["lon"] = shapely.get_x(geoms)
                table["lat"] = shapely.get_y(geoms)
            else:
                table["wkt"] = shapely.to_wkt(geoms, rounding_precision=-1)
            if suffix == ".csv" and append:
                table.to_csv(path, index=False, header=False, mode="a", encoding="utf-8")
            elif suffix == ".csv":
                table.to_csv(path, index=False, encoding="utf-8-sig")
            elif append:
                raise InputError(f"{path}: only CSV and GeoPackage files are appended to")
            else:
                table.to_excel(path, index=False)
        else:
            raise InputError(f"{path}: unsupported output type {suffix!r}")
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{path}: cannot write ({exc})") from exc
    return path


def rejected_rows(frame: gpd.GeoDataFrame, reason: pd.Series) -> pd.DataFrame:
    """The rows whose ``reason`` is not empty, with their 1-based file ``row`` and ``reason``."""
    bad = (reason != "").to_numpy()
    rejected = pd.DataFrame(frame.loc[bad].drop(columns=frame.geometry.name))
    rejected.insert(0, "row", np.flatnonzero(bad) + 1)
    rejected["reason"] = reason[bad].to_numpy()
    return rejected


def accounting_line(imported: int, rejected: pd.DataFrame, total: int) -> str:
    """``N imported + M rejected = T total (reason: count; ...)``: every row accounted for."""
    reasons = rejected["reason"].value_counts() if len(rejected) else {}
    detail = "; ".join(f"{r}: {n}" for r, n in reasons.items())
    line = f"{imported} imported + {len(rejected)} rejected = {total} total"
    return f"{line} ({detail})" if detail else line


# --- real-world incident files: any delimiter and encoding, from a path or from bytes -------------


def _libc_malloc_trim():
    try:
        return ctypes.CDLL(None).malloc_trim  # glibc
    except (AttributeError, OSError, TypeError):  # other C libraries, Windows
        return None


_MALLOC_TRIM = _libc_malloc_trim()


def release_memory() -> None:
    """Give memory freed by large steps back to the system: Arrow's pool (mimalloc/jemalloc
    keep freed pages for reuse) and, on glibc, the C heap (``malloc_trim``).

    Between the steps of a million-row import this lowers the resident size the next step
    starts from by hundreds of MB; it changes no data.
    """
    pa.default_memory_pool().release_unused()
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


_UTF8_BOM = b"\xef\xbb\xbf"
_DELIMITERS = ",;\t|"


@dataclass
class SourceInfo:
    """What ``read_source`` found: file name, kind, text encoding and delimiter (CSV only), the
    rows it could not split into fields (CSV only) and the declared CRS (vector files only)."""

    name: str
    kind: str  # "csv" | "excel" | "vector"
    encoding: str | None = None
    delimiter: str | None = None
    malformed: pd.DataFrame | None = None
    crs: str | None = None


def _source_bytes(source, name: str | None) -> tuple[bytes | None, Path | None, str]:
    """(bytes or None, path or None, file name) of a path, bytes, or file-like (``.name``)."""
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.exists():
            raise InputError(f"{path}: no such file")
        return None, path, name or path.name
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    elif hasattr(source, "getvalue"):
        data = source.getvalue()
    elif hasattr(source, "read"):
        data = source.read()
    else:
        raise InputError(f"cannot read {type(source).__name__}; give a path, bytes or a file")
    name = name or Path(str(getattr(source, "name", "") or "upload.csv")).name
    return data, None, name


def detect_encoding(data: bytes) -> str:
    """``utf-8-sig`` (BOM), ``utf-16`` (BOM), ``utf-8`` when all of it decodes, else ``gb18030``.

    GB18030 is a superset of GBK and GB2312, the usual encodings of Chinese government exports.
    """
    if data.startswith(_UTF8_BOM):
        return "utf-8-sig"
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "utf-16"
    decoder = codecs.getincrementaldecoder("utf-8")()
    step = 1 << 24
    try:
        for start in range(0, len(data), step):
            decoder.decode(data[start : start + step], final=start + step >= len(data))
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        codecs.getincrementaldecoder("gb18030")().decode(data[: 1 << 22], final=False)
    except UnicodeDecodeError as exc:
        raise InputError("text is neither UTF-8 nor GB18030/GBK") from exc
    return "gb18030"


def sniff_delimiter(text: str) -> str:
    """The field delimiter of CSV text (one of ``, ; TAB |``), from its first lines."""
    sample = text[: 1 << 16]
    if "\n" in sample:
        sample = sample[: sample.rfind("\n")]
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        header = sample.splitlines()[0] if sample else ""
        counts = {d: header.count(d) for d in _DELIMITERS}
        best = max(counts, key=counts.get)
        return best if counts[best] else ","


def _read_csv_bytes(data: bytes, name: str, nrows: int | None) -> tuple[pd.DataFrame, SourceInfo]:
    if name.lower().endswith(".gz"):
        data = gzip.decompress(data)
    encoding = detect_encoding(data)
    head = data[: 1 << 16].decode(encoding, errors="ignore").lstrip("\ufeff")
    delimiter = sniff_delimiter(head)
    first = next(csv.reader(io.StringIO(head), delimiter=delimiter), [])
    names = [c.strip() for c in first]
    if not names:
        raise InputError(f"{name}: empty file")
    if nrows is not None:  # a preview: only the first lines
        cut = data[: 1 << 20]
        data = cut[: cut.rfind(b"\n") + 1] if len(data) > len(cut) else data
    bad: list[tuple] = []

    def on_invalid(row) -> str:
        bad.append((row.number, row.actual_columns, row.expected_columns, row.text))
        return "skip"

    arrow_encoding = "utf8" if encoding in ("utf-8", "utf-8-sig") else encoding
    try:
        table = pa_csv.read_csv(
            io.BytesIO(data),
            read_options=pa_csv.ReadOptions(
                encoding=arrow_encoding, column_names=names, skip_rows=1, block_size=1 << 24
            ),
            parse_options=pa_csv.ParseOptions(
                delimiter=delimiter, newlines_in_values=True, invalid_row_handler=on_invalid
            ),
            convert_options=pa_csv.ConvertOptions(
                column_types={c: pa.string() for c in names},
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise InputError(f"{name}: cannot read as CSV ({str(exc).splitlines()[0]})") from exc
    frame = table.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow")}.get)
    del table
    frame.columns = [str(c) for c in frame.columns]
    if nrows is not None:
        frame = frame.head(nrows)
    malformed = pd.DataFrame(bad, columns=["line", "fields", "expected", "text"])
    return frame, SourceInfo(name, "csv", encoding, delimiter, malformed)


def read_source(
    source, *, name: str | None = None, nrows: int | None = None
) -> tuple[pd.DataFrame | gpd.GeoDataFrame, SourceInfo]:
    """Read an incident (or any) file as it is: every column as text, no row dropped.

    Parameters
    ----------
    source
        A path, bytes, or a file-like object (e.g. a Streamlit upload); ``name`` (or the object's
        ``.name``) gives the type by its suffix: ``.csv .txt .tsv`` (optionally ``.gz``),
        ``.xlsx``, ``.geojson .json .gpkg .shp .fgb``.
    nrows
        Read only about the first ``nrows`` rows (for a preview).

    Returns
    -------
    (frame, SourceInfo)
        CSV and Excel: a DataFrame of strings (``<NA>`` for empty fields). CSV rows that cannot be
        split into the header's number of fields are listed in ``info.malformed`` (``line, fields,
        expected, text``), not in the frame. Vector files: a GeoDataFrame in the file's own CRS.
    """
    data, path, name = _source_bytes(source, name)
    suffix = Path(name[:-3] if name.lower().endswith(".gz") else name).suffix.lower()
    if suffix in VECTOR_SUFFIXES:
        try:
            frame = pyogrio.read_dataframe(path if path is not None else io.BytesIO(data))
        except Exception as exc:
            raise InputError(f"{name}: cannot read as a vector file ({exc})") from exc
        if nrows is not None:
            frame = frame.head(nrows)
        crs = frame.crs.to_string() if frame.crs is not None else None
        return frame, SourceInfo(name, "vector", crs=crs)
    if suffix in {".xlsx", ".xlsm", ".xls"}:
        try:
            frame = pd.read_excel(
                path if path is not None else io.BytesIO(data), dtype=str, nrows=nrows
            )
        except Exception as exc:
            raise InputError(f"{name}: cannot read as Excel ({exc})") from exc
        frame.columns = [str(c).strip() for c in frame.columns]
        return frame.astype("string"), SourceInfo(name, "excel")
    if suffix not in {".csv", ".txt", ".tsv", ""}:
        raise InputError(
            f"{name}: unsupported file type {suffix!r}; use CSV, Excel (.xlsx), GeoJSON, "
            "GeoPackage or Shapefile"
        )
    if data is None:
        data = path.read_bytes()
    return _read_csv_bytes(data, name, nrows)
