"""Settings in one place: paths, CRS, time zone, environment variables.

Everything a deployment may change is read from the environment here and nowhere else.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The project checkout (``gis/`` lives in it).
PROJECT_DIR = Path(__file__).resolve().parents[2]

#: Editable reference tables (taxonomy, departments) and the embedded database file.
DATA_DIR = Path(os.environ.get("GRIDLENS_DATA_DIR", PROJECT_DIR / "data"))

#: Environment variable holding the database URL (``sqlite:///...`` or ``postgresql://...``).
DB_ENV = "GRIDLENS_DB"

#: The embedded default database: a SpatiaLite file under ``data/``.
DEFAULT_DB_PATH = DATA_DIR / "gridlens.db"

#: Everything is stored in WGS-84 longitude/latitude.
STORAGE_EPSG = 4326

#: CGCS2000 / 3-degree Gauss-Kruger CM 114E: the metric CRS for the demo district (Gaoping, 112.9E).
DEMO_METRIC_EPSG = 4547

#: Timestamps are stored as naive wall-clock times in the district's zone.
DISTRICT_TZ = os.environ.get("GRIDLENS_TZ", "Asia/Shanghai")

#: Path to mod_spatialite; geoalchemy2 reads the same variable.
SPATIALITE_ENV = "SPATIALITE_LIBRARY_PATH"
#: seconds a SpatiaLite write waits for another program's lock (a DB browser holding a read
#: transaction) before it gives up with one line saying so
SQLITE_BUSY_TIMEOUT_S = float(os.environ.get("GRIDLENS_SQLITE_BUSY_S", "30"))
DEFAULT_SPATIALITE = "mod_spatialite"

TAXONOMY_CSV = DATA_DIR / "taxonomy.csv"
DEPARTMENTS_CSV = DATA_DIR / "departments.csv"
#: Editable aliases of incident categories (Chinese and English names found in real files).
CATEGORY_ALIASES_CSV = DATA_DIR / "category_aliases.csv"


#: The offline vector basemap drawn under every map: ``static/basemap/<name>.pmtiles``
#: (``gridlens basemap build``; ``gridlens demo`` builds ``district``).
BASEMAP_ENV = "GRIDLENS_BASEMAP"
DEFAULT_BASEMAP = "district"

#: An intranet tile service offered instead of the vector basemap (XYZ or WMTS KVP template:
#: ``http://tiles.city.gov/{z}/{x}/{y}.png``), its attribution, its datum (``wgs84`` or
#: ``gcj02``: GCJ-02 tiles are shifted onto the WGS-84 data) and its deepest zoom.
TILE_URL_ENV = "GRIDLENS_TILE_URL"
TILE_ATTRIBUTION_ENV = "GRIDLENS_TILE_ATTRIBUTION"
TILE_CRS_ENV = "GRIDLENS_TILE_CRS"
TILE_MAX_ZOOM_ENV = "GRIDLENS_TILE_MAX_ZOOM"


def basemap_name() -> str:
    """The configured basemap name (``GRIDLENS_BASEMAP``, default ``district``)."""
    return os.environ.get(BASEMAP_ENV) or DEFAULT_BASEMAP


def tile_server_settings() -> dict[str, str]:
    """The intranet tile service's settings from the environment (empty ``url``: none)."""
    return {
        "url": os.environ.get(TILE_URL_ENV, "").strip(),
        "attribution": os.environ.get(TILE_ATTRIBUTION_ENV, "").strip(),
        "crs": os.environ.get(TILE_CRS_ENV, "wgs84").strip() or "wgs84",
        "max_zoom": os.environ.get(TILE_MAX_ZOOM_ENV, "18").strip() or "18",
    }


def database_url(explicit: str | None = None) -> str:
    """Resolve the database URL: explicit argument, then ``GRIDLENS_DB``, then the default file.

    A bare file path (``foo.db``) is accepted and turned into a ``sqlite:///`` URL.
    """
    url = explicit or os.environ.get(DB_ENV) or str(DEFAULT_DB_PATH)
    if "://" not in url:
        url = f"sqlite:///{Path(url).expanduser().resolve()}"
    return url


#: Compressed input (``.gz``, ``.bz2``, ``.xz``, ``.zip`` uploads) may expand to at most this
#: many bytes (``GRIDLENS_MAX_DECOMPRESSED_MB``, default 2048) ...
MAX_DECOMPRESSED_BYTES = int(os.environ.get("GRIDLENS_MAX_DECOMPRESSED_MB", "2048")) * 2**20
#: ... and, past ``RATIO_FLOOR_BYTES``, at most this many times its compressed size (real
#: CSV and Shapefiles compress 3-30 times; a decompression bomb thousands of times).
MAX_DECOMPRESSION_RATIO = 200
RATIO_FLOOR_BYTES = 64 * 2**20
