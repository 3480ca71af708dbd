"""The deterministic demo district: a made-up sub-district (街道) around Gaoping, Shanxi.

``generate_district(seed)`` builds, from ``numpy.random.default_rng(seed)`` alone, everything the
platform shows and analyses: a 15 / 46 / 447 grid hierarchy that tiles the district exactly plus
15 dedicated grids, grid staff and enforcement officers, a named street network, the places that
drive incidents, 12 months of incidents with daily, weekly and seasonal rhythms, two weeks of
patrol GPS tracks, and ``truth`` -- the patterns planted in the data (hotspots, two rectification
operations, neglected micro-grids) so analyses can be checked against it.

All geometry is built in the metric CRS ``settings.DEMO_METRIC_EPSG`` (EPSG:4547, CGCS2000
3-degree Gauss-Kruger CM 114E; metres) and transformed to EPSG:4326 (lon/lat) at the end. Times
are naive wall-clock Asia/Shanghai. Same seed -> byte-identical frames (see
``DemoDistrict.fingerprint``).

``load_demo(engine, district)`` replaces a store's data with it.

Modules, in the order the generator uses them: ``district`` (where, when, sizes; the
``DemoDistrict`` result), ``tiling`` (metric CRS, Voronoi tiling), ``grids``, ``streets``,
``places`` (places and dedicated grids), ``incidents``, ``staff``, ``tracks``, ``truth``,
``generate`` (``generate_district``), ``load`` (``load_demo``); ``names`` holds the name lists.
"""

from gis.demo.district import (
    CENTER_LONLAT,
    COUNTY_CODE,
    DEDICATED_KINDS,
    DEMO_END,
    DEMO_START,
    GRID_SIZE_M,
    N_L1,
    N_L2,
    N_MICRO,
    PLACE_KINDS,
    SOURCES,
    STREET_CODE,
    TARGET_INCIDENTS,
    DemoDistrict,
)
from gis.demo.generate import generate_district
from gis.demo.load import load_demo
from gis.demo.tiling import METRIC_EPSG
from gis.demo.tracks import NEGLECT_CLEARANCE_M

__all__ = [
    "DemoDistrict",
    "generate_district",
    "load_demo",
    "DEMO_START",
    "DEMO_END",
    "CENTER_LONLAT",
    "COUNTY_CODE",
    "STREET_CODE",
    "N_L1",
    "N_L2",
    "N_MICRO",
    "GRID_SIZE_M",
    "TARGET_INCIDENTS",
    "DEDICATED_KINDS",
    "PLACE_KINDS",
    "SOURCES",
    "METRIC_EPSG",
    "NEGLECT_CLEARANCE_M",
]
