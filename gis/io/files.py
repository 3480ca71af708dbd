"""Reading and writing exchange files: GeoJSON, GeoPackage, Shapefile, GeoParquet, CSV, Excel.

CSV and Excel carry points as lon/lat columns or any geometry as a WKT column. Vector files in
any CRS are reprojected to EPSG:4326. Errors name the file and the problem.
"""

from __future__ import annotations

import codecs
import csv
import ctypes
import io
import itertools
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pa_compute
import pyarrow.csv as pa_csv
import pyogrio
import shapely

from gis.core.errors import InputError
from gis.core.settings import STORAGE_EPSG
from gis.io.cells import neutralize_formulas
from gis.io.columns import detect_columns
from gis.io.unpack import decompress

VECTOR_SUFFIXES = {".geojson", ".json", ".gpkg", ".shp", ".fgb"}
TABLE_SUFFIXES = {".csv", ".txt", ".tsv", ".xlsx", ".xls"}


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV (delimiter sniffed; UTF-8, UTF-8 BOM or GB18030) or Excel file as strings.

    Title rows above the header are skipped; every Excel sheet with location columns is read
    (:func:`read_excel_sheets`); a CSV line that cannot be read refuses the file, naming it.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix in {".xlsx", ".xls"}:
            frame = read_excel_sheets(path, path.name)[0]
            return frame.astype(object).where(frame.notna(), np.nan)
        frame, info = _read_csv_bytes(path.read_bytes(), path.name, None)
        if len(info.malformed):
            first = info.malformed.iloc[0]
            more = len(info.malformed) - 1
            raise InputError(
                f"{path}: line {first['line']}: {first['reason']}"
                + (f" (and {more} more such line(s))" if more else "")
                + "; nothing was read"
            )
        return frame.astype(object).where(frame.notna(), np.nan)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{path}: cannot read as a table ({exc})") from exc


def shapefile_check(path: Path | None, name: str) -> list[str]:
    """Notes on a Shapefile's companion files: refuses one without ``.dbf`` (its attributes
    would be silently lost) or ``.shx``; returns a note when ``.prj`` (the CRS) is missing."""
    if path is None or path.suffix.lower() != ".shp":
        return []
    have = {p.name.lower() for p in path.parent.iterdir()}
    missing = [ext for ext in (".dbf", ".shx", ".prj") if (path.stem + ext).lower() not in have]
    needed = [ext for ext in missing if ext != ".prj"]
    if needed:
        raise InputError(
            f"{name}: the Shapefile's {' and '.join(needed)} "
            f"{'is' if len(needed) == 1 else 'are'} missing (a Shapefile is several files): "
            "put .shp, .shx, .dbf and .prj side by side, or upload them zipped together"
        )
    if ".prj" in missing:
        return [
            f"{name}: no .prj beside the Shapefile: its coordinate system is unknown "
            "(taken as WGS-84 unless --crs says otherwise)"
        ]
    return []


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
        no_prj = bool(shapefile_check(path, path.name))
        try:
            if suffix == ".parquet":
                frame = gpd.read_parquet(path)
            else:
                frame = pyogrio.read_dataframe(path)
        except Exception as exc:
            raise InputError(f"{path}: cannot read as a vector file ({exc})") from exc
        if frame.crs is None:
            if no_prj and crs is None and len(frame):
                minx, miny, maxx, maxy = frame.total_bounds
                if max(abs(minx), abs(maxx)) > 180 or max(abs(miny), abs(maxy)) > 90:
                    raise InputError(
                        f"{path}: no .prj beside the Shapefile and its coordinates are not "
                        "degrees: give its coordinate system (e.g. --crs EPSG:4547)"
                    )
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
            table = neutralize_formulas(table)  # no live formulas in a spreadsheet (OWASP)
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


def header_row(rows: list[list]) -> int:
    """Index of the header among the first rows of a table: title rows above it (one filled
    cell or none, e.g. a merged title cell) are skipped when a later row has more cells."""
    filled = [sum(v is not None and str(v).strip() not in ("", "nan") for v in r) for r in rows]
    if not filled or max(filled) < 2:
        return 0
    return next(i for i, n in enumerate(filled) if n >= 2)


def has_location_columns(columns, sample: pd.DataFrame | None = None) -> bool:
    """Whether ``columns`` (with a ``sample`` of rows) include lon and lat, or a WKT column."""
    found = detect_columns(list(map(str, columns)), sample)
    return ("lon" in found and "lat" in found) or "wkt" in found


def read_excel_sheets(
    source, name: str, *, nrows: int | None = None, sheet: str | None = None
) -> tuple[pd.DataFrame, SourceInfo]:
    """The rows of every sheet of a workbook that has location columns (lon/lat or WKT), as
    text, one table (columns of all those sheets); ``info.sheets`` names the sheets read.

    ``sheet`` reads that sheet only. Title rows above a sheet's header are skipped
    (:func:`header_row`). When no sheet has location columns the first sheet is read (the
    import then says what is missing).
    """
    try:
        book = pd.read_excel(
            source, sheet_name=None if sheet is None else sheet, dtype=str, header=None
        )
    except ValueError as exc:
        if sheet is not None and "not found" in str(exc):
            names = pd.ExcelFile(source).sheet_names
            raise InputError(f"{name}: no sheet {sheet!r}; its sheets: {', '.join(names)}") from exc
        raise InputError(f"{name}: cannot read as Excel ({exc})") from exc
    except Exception as exc:
        raise InputError(f"{name}: cannot read as Excel ({exc})") from exc
    if sheet is not None:
        book = {sheet: book}
    frames: dict[str, pd.DataFrame] = {}
    for sheet_name, raw in book.items():
        filled = raw.notna().any(axis=1).to_numpy()
        if not filled.any():
            continue
        raw = raw.iloc[: int(np.flatnonzero(filled)[-1]) + 1]  # blank rows at the end: no rows
        top = header_row(raw.head(10).to_numpy().tolist())
        header = [
            str(v).strip() if v is not None and str(v) != "nan" else f"column {j + 1}"
            for j, v in enumerate(raw.iloc[top])
        ]
        seen: dict[str, int] = {}
        for j, h in enumerate(header):  # repeated names as pandas writes them: x, x.1, x.2
            header[j] = f"{h}.{seen[h]}" if h in seen else h
            seen[h] = seen.get(h, 0) + 1
        body = raw.iloc[top + 1 :].copy()
        body.columns = header
        empty = body.isna().all().to_numpy()
        body = body.loc[
            :, [not (h.startswith("column ") and e) for h, e in zip(header, empty, strict=True)]
        ]
        frames[str(sheet_name)] = body
    if not frames:
        raise InputError(f"{name}: every sheet is empty")
    located = [k for k, f in frames.items() if has_location_columns(f.columns, f.head(200))]
    chosen = located or [next(iter(frames))]
    frame = pd.concat([frames[k] for k in chosen], ignore_index=True)
    if nrows is not None:
        frame = frame.head(nrows)
    info = SourceInfo(
        name, "excel", sheets=chosen, skipped_sheets=[k for k in book if k not in chosen]
    )
    return frame.astype("string"), info


@dataclass
class SourceInfo:
    """What ``read_source`` found: file name, kind, text encoding and delimiter (CSV only), the
    rows it could not split into fields (CSV only), the declared CRS (vector files only) and
    the sheets read and not read (Excel only)."""

    name: str
    kind: str  # "csv" | "excel" | "vector"
    encoding: str | None = None
    delimiter: str | None = None
    malformed: pd.DataFrame | None = None
    crs: str | None = None
    sheets: list[str] | None = None
    skipped_sheets: list[str] | None = None
    notes: list[str] = field(default_factory=list)


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


def detect_encoding(data: bytes, name: str | None = None) -> str:
    """``utf-8-sig`` (BOM), ``utf-16`` (BOM), ``utf-8`` when all of it decodes, else ``gb18030``.

    GB18030 is a superset of GBK and GB2312, the usual encodings of Chinese government exports.
    A refusal names the file (``name``) and the byte offsets (0-based) where each reading fails.
    """
    if data.startswith(_UTF8_BOM):
        return "utf-8-sig"
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "utf-16"
    decoder = codecs.getincrementaldecoder("utf-8")()
    step = 1 << 24
    start = 0
    try:
        for start in range(0, len(data), step):
            decoder.decode(data[start : start + step], final=start + step >= len(data))
        return "utf-8"
    except UnicodeDecodeError as exc:
        utf8_at = start + exc.start
    decoder = codecs.getincrementaldecoder("gb18030")()
    try:
        for start in range(0, len(data), step):
            decoder.decode(data[start : start + step], final=start + step >= len(data))
    except UnicodeDecodeError as exc:
        where = f"{name}: " if name else ""
        raise InputError(
            f"{where}text is neither UTF-8 (invalid at byte {utf8_at}) nor GB18030/GBK "
            f"(invalid at byte {start + exc.start}); save it as UTF-8"
        ) from exc
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


def _refuse_repeated_names(name: str, names: list[str], line: int) -> None:
    """One line naming the header's repeated column names (1-based columns), if any: which of
    two ``lon`` columns holds the longitude is the user's call, not ours."""
    where: dict[str, list[int]] = {}
    for j, h in enumerate(names):
        if h:
            where.setdefault(h, []).append(j + 1)
    twice = {h: js for h, js in where.items() if len(js) > 1}
    if twice:
        said = "; ".join(f"'{h}' in columns {', '.join(map(str, js))}" for h, js in twice.items())
        raise InputError(
            f"{name}: the header (line {line}) repeats column names ({said}): "
            "give each column its own name"
        )


def _read_csv_bytes(data: bytes, name: str, nrows: int | None) -> tuple[pd.DataFrame, SourceInfo]:
    if name.lower().endswith(".gz"):
        data = decompress(data, name)  # bounded: no decompression bomb
    encoding = detect_encoding(data, name)
    head = data[: 1 << 16].decode(encoding, errors="ignore").lstrip("\ufeff")
    delimiter = sniff_delimiter(head)
    top_rows = list(itertools.islice(csv.reader(io.StringIO(head), delimiter=delimiter), 10))
    top = header_row(top_rows)
    first = top_rows[top] if top_rows else []
    names = [c.strip() for c in first]
    if not names:
        raise InputError(f"{name}: empty file")
    _refuse_repeated_names(name, names, top + 1)
    if top:  # title lines above the header: drop them, the header becomes the first line
        data = data[_offset_of_line(data, top) :]
        if encoding == "utf-8-sig":
            encoding = "utf-8"
    if nrows is not None:  # a preview: only the first lines
        cut = data[: 1 << 20]
        data = cut[: cut.rfind(b"\n") + 1] if len(data) > len(cut) else data
    bad: list[tuple] = []

    def on_invalid(row) -> str:
        reason = f"malformed row: {row.actual_columns} fields, expected {row.expected_columns}"
        bad.append((row.number, row.actual_columns, row.expected_columns, row.text, reason))
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
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: cannot read as CSV ({str(exc).splitlines()[0]})") from exc
    except pa.ArrowInvalid:  # e.g. a field larger than a block: read line by line
        table = None
    if table is None or bad or _needs_line_check(table):  # quotes may have swallowed rows
        del table
        text = data.decode(encoding, errors="replace").lstrip("\ufeff")
        frame, bad = split_csv_records(text, delimiter, names)
    else:
        frame = table.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow")}.get)
        del table
    frame.columns = [str(c) for c in frame.columns]
    if nrows is not None:
        frame = frame.head(nrows)
    malformed = pd.DataFrame(bad, columns=["line", "fields", "expected", "text", "reason"])
    return frame, SourceInfo(name, "csv", encoding, delimiter, malformed)


#: longest text field accepted, in characters (Excel's limit for a cell): longer ones reject
#: their row
MAX_FIELD_CHARS = 32_767


def _offset_of_line(data: bytes, line: int) -> int:
    """Byte offset where 0-based line ``line`` of ``data`` starts."""
    at = 0
    for _ in range(line):
        at = data.index(b"\n", at) + 1
    return at


def _needs_line_check(table: pa.Table) -> bool:
    """Whether any text value of ``table`` holds a line break (a quoted field over lines), a
    NUL character or more than ``MAX_FIELD_CHARS`` characters."""
    for column in table.columns:
        if not pa.types.is_string(column.type):
            continue
        if pa_compute.any(pa_compute.match_substring_regex(column, "[\r\n\x00]")).as_py():
            return True
        longest = pa_compute.max(pa_compute.utf8_length(column)).as_py()
        if longest is not None and longest > MAX_FIELD_CHARS:
            return True
    return False


def _field_problem(fields: list[str]) -> str | None:
    """Why a record's fields cannot be stored (a NUL character, an oversized field), or None."""
    for i, value in enumerate(fields):
        if "\x00" in value:
            return f"NUL character in field {i + 1}"
        if len(value) > MAX_FIELD_CHARS:
            return f"field {i + 1} longer than {MAX_FIELD_CHARS} characters ({len(value)})"
    return None


def _fields_of_line(line: str, delimiter: str) -> list[str]:
    return next(csv.reader([line], delimiter=delimiter), [])


def _first_record(lines: list[str], start: int, delimiter: str) -> list[str] | None:
    """The fields of the first non-empty record from line index ``start`` on, or None."""
    for fields in csv.reader(itertools.islice(lines, start, None), delimiter=delimiter):
        if fields:
            return fields
    return None


def _whole_row(line: str, delimiter: str, expected: int) -> bool:
    """Whether ``line``, a later line of a quoted value, looks like a row of its own: its
    quotes pair up and it splits into the header's number of fields (the rest of a genuine
    multi-line value does neither, as a rule)."""
    return line.count('"') % 2 == 0 and len(_fields_of_line(line, delimiter)) == expected


def split_csv_records(
    text: str, delimiter: str, names: list[str]
) -> tuple[pd.DataFrame, list[tuple]]:
    """The data records of CSV ``text`` (header line first), each checked line by line.

    A quoted field may hold line breaks, but an unbalanced quote must not swallow the rows
    after it: a record over several lines whose quote marks do not pair up, or whose later
    lines are complete rows by themselves (paired quotes, the header's number of fields), or
    that does not split into the header's number of fields, is rejected at its first line and
    reading resumes on the next line. (A quote closed on the very next line by a stray quote
    cannot be told from a value over two lines: those two lines are read as one row.) Records with a NUL character or a field
    over ``MAX_FIELD_CHARS`` characters are rejected too.

    Returns
    -------
    (frame, bad)
        The good records as strings (``<NA>`` for empty fields) and, per rejected line,
        ``(line, fields, expected, text, reason)`` with 1-based file line numbers.
    """
    lines = text.splitlines(keepends=True)
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    expected = len(names)
    rows: list[list[str]] = []
    bad: list[tuple] = []
    start = 1  # index of the first line not yet read (line 0 is the header)
    while start < len(lines):
        reader = csv.reader(itertools.islice(lines, start, None), delimiter=delimiter)
        restart = None
        before = 0
        for fields in reader:
            first, after = start + before, start + reader.line_num
            before = reader.line_num
            if not fields:  # an empty line
                continue
            line_no = first + 1
            raw = "".join(lines[first:after])
            multi = after - first > 1
            whole = (
                next(
                    (
                        k
                        for k in range(first + 1, after)
                        if _whole_row(lines[k], delimiter, expected)
                    ),
                    None,
                )
                if multi and expected > 1
                else None
            )
            broken = multi and (raw.count('"') % 2 or len(fields) != expected or whole is not None)
            # the broken row ends before the first later line that is a row by itself; when no
            # later line is, they all belong to it
            restart = whole if whole is not None else after
            if multi and not broken:  # a value over lines, unless a stray quote closed it:
                # then what follows does not split, while reading from the next line does
                after_it = _first_record(lines, after, delimiter)
                if after_it is not None and len(after_it) != expected:
                    instead = _first_record(lines, first + 1, delimiter)
                    broken = instead is not None and len(instead) == expected
                    restart = first + 1
            if broken:
                bad.append(
                    (
                        line_no,
                        len(_fields_of_line(lines[first], delimiter)),
                        expected,
                        "".join(lines[first:restart]).rstrip("\r\n")[:1000],
                        f"unbalanced quote at line {line_no}: the field would run over lines "
                        f"{line_no}-{after}",
                    )
                )
                break
            if len(fields) != expected:
                reason = f"malformed row: {len(fields)} fields, expected {expected}"
                bad.append((line_no, len(fields), expected, raw.rstrip("\r\n"), reason))
                continue
            problem = _field_problem(fields)
            if problem is not None:
                bad.append((line_no, len(fields), expected, raw[:200].rstrip("\r\n"), problem))
                continue
            rows.append(fields)
        if restart is None:
            break
        start = restart
    frame = pd.DataFrame(rows, columns=names, dtype=object)
    frame = frame.mask(frame == "").astype(pd.StringDtype("pyarrow"))
    return frame, bad


def read_source(
    source, *, name: str | None = None, nrows: int | None = None, sheet: str | None = None
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
    sheet
        Excel: read only this sheet (default: every sheet with location columns, see
        :func:`read_excel_sheets`).

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
        notes = shapefile_check(path, name)
        try:
            frame = pyogrio.read_dataframe(path if path is not None else io.BytesIO(data))
        except Exception as exc:
            raise InputError(f"{name}: cannot read as a vector file ({exc})") from exc
        if nrows is not None:
            frame = frame.head(nrows)
        crs = frame.crs.to_string() if frame.crs is not None else None
        return frame, SourceInfo(name, "vector", crs=crs, notes=notes)
    if suffix in {".xlsx", ".xlsm", ".xls"}:
        return read_excel_sheets(
            path if path is not None else io.BytesIO(data), name, nrows=nrows, sheet=sheet
        )
    if suffix not in {".csv", ".txt", ".tsv", ""}:
        raise InputError(
            f"{name}: unsupported file type {suffix!r}; use CSV, Excel (.xlsx), GeoJSON, "
            "GeoPackage or Shapefile"
        )
    if data is None:
        data = path.read_bytes()
    return _read_csv_bytes(data, name, nrows)
