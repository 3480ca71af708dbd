"""Files in and out: reading any vector or table file (:mod:`gis.io.files`), THE column guesser
(:mod:`gis.io.columns`) and THE table writer (:mod:`gis.io.tables`)."""

from gis.io.cells import FORMULA_PREFIXES, neutralize_formulas
from gis.io.columns import (
    CASE_FIELDS,
    GRID_FIELDS,
    INCIDENT_FIELDS,
    TRACK_FIELDS,
    ColumnMapping,
    FieldSchema,
    detect_columns,
    normalize_header,
    read_mapping_file,
)
from gis.io.files import (
    TABLE_SUFFIXES,
    VECTOR_SUFFIXES,
    SourceInfo,
    accounting_line,
    detect_encoding,
    read_geo_file,
    read_source,
    read_table,
    rejected_rows,
    release_memory,
    sniff_delimiter,
    write_geo_file,
)
from gis.io.tables import write_table
from gis.io.unpack import COMPRESSED_SUFFIXES, decompress, extract_zip

__all__ = [
    "COMPRESSED_SUFFIXES",
    "decompress",
    "extract_zip",
    "FORMULA_PREFIXES",
    "neutralize_formulas",
    "CASE_FIELDS",
    "GRID_FIELDS",
    "INCIDENT_FIELDS",
    "TABLE_SUFFIXES",
    "TRACK_FIELDS",
    "VECTOR_SUFFIXES",
    "ColumnMapping",
    "FieldSchema",
    "SourceInfo",
    "accounting_line",
    "detect_columns",
    "detect_encoding",
    "normalize_header",
    "read_geo_file",
    "read_mapping_file",
    "read_source",
    "read_table",
    "rejected_rows",
    "release_memory",
    "sniff_delimiter",
    "write_geo_file",
    "write_table",
]
