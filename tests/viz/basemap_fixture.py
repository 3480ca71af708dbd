"""A small hand-made district for the basemap tests: named streets, a river, buildings,
places, one community, around 112.925 E 35.795 N (EPSG:4326)."""

from __future__ import annotations

import geopandas as gpd
import shapely

X0, Y0 = 112.925, 35.795
STREET_NAMES = ("凤凰大道", "书院街", "槐树巷")


def streets() -> gpd.GeoDataFrame:
    """Three named streets crossing the centre: a main road, a street and an alley."""
    return gpd.GeoDataFrame(
        {"name": list(STREET_NAMES), "highway": ["main", "street", "alley"]},
        geometry=[
            shapely.LineString([(X0 - 0.01, Y0), (X0 + 0.01, Y0)]),
            shapely.LineString([(X0, Y0 - 0.01), (X0, Y0 + 0.01)]),
            shapely.LineString([(X0 - 0.006, Y0 - 0.004), (X0 + 0.006, Y0 + 0.004)]),
        ],
        crs=4326,
    )


def grids() -> gpd.GeoDataFrame:
    """One level-1 grid (community) around the centre."""
    return gpd.GeoDataFrame(
        {"name": ["北关社区"], "level": ["l1"]},
        geometry=[shapely.box(X0 - 0.008, Y0 - 0.006, X0 + 0.008, Y0 + 0.006)],
        crs=4326,
    )


def places() -> gpd.GeoDataFrame:
    """A school and a market."""
    return gpd.GeoDataFrame(
        {"name": ["东城小学", "北关市场"], "kind": ["school", "market"]},
        geometry=[shapely.Point(X0 + 0.003, Y0 + 0.002), shapely.Point(X0 - 0.004, Y0 - 0.002)],
        crs=4326,
    )


def water_cgcs2000(path) -> None:
    """A river polygon written as a CGCS2000 (EPSG:4490) GeoPackage, as a city supplies it."""
    river = shapely.box(X0 - 0.01, Y0 + 0.004, X0 + 0.01, Y0 + 0.005)
    gpd.GeoDataFrame({"名称": ["丹河"]}, geometry=[river], crs=4326).to_crs(4490).to_file(
        path, driver="GPKG"
    )
