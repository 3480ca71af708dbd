"""Geometry of edits: EPSG:4326 overlays on a fine precision grid, with a local metre scale
for tolerances and quick areas (see the Precision rule in :mod:`gis.grids.edit`).
"""

from __future__ import annotations

import math

import shapely

#: default snapping distance of a drawn shape to existing vertices (m); Leaflet rounds to ~0.1 m
SNAP_M = 0.5
#: a detached part of a neighbour below this area (m²) is handed on; matches validation's default
SLIVER_M2 = 50.0
#: a new shape may stick out of its parent by this much (m²) and is simply clipped
OUTSIDE_TOLERANCE_M2 = 1.0
#: default extension of a split line's ends (m) so a line drawn nearly across still cuts
EXTEND_M = 20.0


class Scale:
    """Metres per degree near the data (WGS-84 ellipsoid), for tolerances and quick areas."""

    def __init__(self, lat: float):
        phi = math.radians(lat)
        self.mx = 111_412.84 * math.cos(phi) - 93.5 * math.cos(3 * phi) + 0.118 * math.cos(5 * phi)
        self.my = 111_132.954 - 559.822 * math.cos(2 * phi) + 1.175 * math.cos(4 * phi)
        self.m2 = self.mx * self.my

    def deg(self, metres: float) -> float:
        """A distance in degrees that is at least ``metres`` in every direction."""
        return metres / min(self.mx, self.my)

    def area_m2(self, geom) -> float:
        """Area (m²) of a small EPSG:4326 geometry near the scale's latitude."""
        return float(shapely.area(geom)) * self.m2

    def length_m(self, geom) -> float:
        """Length (m) of a small EPSG:4326 geometry near the scale's latitude."""
        return float(shapely.length(geom)) * math.sqrt(self.m2)


def polygonal(geom) -> shapely.Geometry:
    """The polygonal part of ``geom`` as a (possibly empty) MultiPolygon."""
    if geom is None or shapely.is_empty(geom):
        return shapely.MultiPolygon()
    tid = shapely.get_type_id(geom)
    if tid == 3:
        return shapely.MultiPolygon([geom])
    if tid == 6:
        return geom
    if tid == 7:
        parts = [
            q
            for p in shapely.get_parts(geom)
            for q in shapely.get_parts(polygonal(p))
            if shapely.get_type_id(q) == 3
        ]
        return shapely.MultiPolygon(parts)
    return shapely.MultiPolygon()


#: precision grid (degrees, ~1 µm) of the overlays that make new shapes: edges that should
#: coincide but differ in the last float bits (112.90 + 0.01 vs 112.905 + 0.005) snap together
GRID_DEG = 1e-11


def inter(a, b):
    """``a ∩ b`` on the ``GRID_DEG`` precision grid."""
    return shapely.intersection(a, b, grid_size=GRID_DEG)


def diff(a, b):
    """``a − b`` on the ``GRID_DEG`` precision grid."""
    return shapely.difference(a, b, grid_size=GRID_DEG)


def union(a, b):
    """``a ∪ b`` on the ``GRID_DEG`` precision grid."""
    return shapely.union(a, b, grid_size=GRID_DEG)


def union_all(geoms):
    """The union of ``geoms`` on the ``GRID_DEG`` precision grid."""
    return shapely.union_all(geoms, grid_size=GRID_DEG)


def polygon_parts(geom) -> list[shapely.Polygon]:
    """The polygons of ``geom``'s polygonal part."""
    return list(shapely.get_parts(polygonal(geom)))


def as_multi(geom) -> shapely.Geometry:
    """``geom`` as a MultiPolygon, the type the ``grids`` table stores."""
    return polygonal(geom)
