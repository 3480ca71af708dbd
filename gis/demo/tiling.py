"""Geometry of the demo in its metric CRS: the outline, Lloyd-relaxed Voronoi cells, exact tiling.

All geometry is built in ``settings.DEMO_METRIC_EPSG`` (metres) and transformed to EPSG:4326 at
the end with ``to_lonlat``.
"""

from __future__ import annotations

import numpy as np
import shapely
from pyproj import Transformer

from gis.core import settings
from gis.demo.district import GRID_SIZE_M

#: The demo's metric CRS (EPSG:4547, CGCS2000 3-degree Gauss-Kruger CM 114E) and its transforms.
METRIC_EPSG = settings.DEMO_METRIC_EPSG
TO_LONLAT = Transformer.from_crs(METRIC_EPSG, settings.STORAGE_EPSG, always_xy=True)
TO_METRIC = Transformer.from_crs(settings.STORAGE_EPSG, METRIC_EPSG, always_xy=True)


def to_lonlat(geoms: np.ndarray) -> np.ndarray:
    """Transform metric (EPSG:4547) geometries to EPSG:4326, vertex by vertex."""

    def fn(xy: np.ndarray) -> np.ndarray:
        lon, lat = TO_LONLAT.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    return shapely.transform(geoms, fn)


def as_multipolygon(geom: shapely.Geometry) -> shapely.MultiPolygon:
    """The polygon parts of ``geom`` with an area, as one MultiPolygon."""
    parts = [p for p in shapely.get_parts(geom) if isinstance(p, shapely.Polygon) and p.area > 0]
    return shapely.MultiPolygon(parts)


def _points_in(poly: shapely.Geometry, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` uniform random points inside ``poly`` (rejection sampling in its bounding box)."""
    x0, y0, x1, y1 = poly.bounds
    out = np.empty((0, 2))
    while len(out) < n:
        cand = rng.uniform((x0, y0), (x1, y1), size=(max(4 * n, 16), 2))
        cand = cand[shapely.contains_xy(poly, cand[:, 0], cand[:, 1])]
        out = np.vstack([out, cand])
    return out[:n]


def _clipped_voronoi(pts: np.ndarray, parent: shapely.Geometry) -> np.ndarray:
    if len(pts) == 1:
        return np.array([parent], dtype=object)
    extent = shapely.box(*parent.buffer(2_000.0).bounds)
    vor = shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=extent, ordered=True)
    return shapely.intersection(shapely.get_parts(vor), parent)


def relaxed_cells(
    parent: shapely.Geometry, n: int, rng: np.random.Generator, iters: int = 8
) -> np.ndarray:
    """Voronoi cells of ``n`` seeds in ``parent`` after ``iters`` Lloyd steps, clipped to it."""
    pts = _points_in(parent, n, rng)
    for _ in range(iters):
        cells = _clipped_voronoi(pts, parent)
        cen = shapely.get_coordinates(shapely.centroid(cells))
        pos = shapely.get_coordinates(shapely.point_on_surface(cells))
        inside = shapely.contains_xy(parent, cen[:, 0], cen[:, 1])
        pts = np.where(inside[:, None], cen, pos)
    return _clipped_voronoi(pts, parent)


def allocate(total: int, areas: np.ndarray) -> np.ndarray:
    """Split ``total`` children over parents as evenly as possible, extras to the largest."""
    counts = np.full(len(areas), total // len(areas), dtype=np.int64)
    extra = total - counts.sum()
    counts[np.argsort(-areas, kind="stable")[:extra]] += 1
    return counts


def district_polygon(rng: np.random.Generator, center_xy: np.ndarray) -> shapely.Polygon:
    """Irregular smooth outline of about 13.5-15 km² around ``center_xy`` (metric)."""
    theta = np.linspace(0.0, 2 * np.pi, 256, endpoint=False)
    r = np.ones_like(theta)
    for k in range(2, 7):
        r += (
            rng.uniform(0.04, 0.09) / np.sqrt(k - 1) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
        )
    stretch = rng.uniform(1.1, 1.3)
    xy = np.column_stack([r * np.cos(theta) * stretch, r * np.sin(theta) / stretch])
    poly = shapely.Polygon(xy)
    target = rng.uniform(13.5e6, 15.0e6)
    xy *= np.sqrt(target / poly.area)
    return shapely.set_precision(shapely.Polygon(xy + center_xy), GRID_SIZE_M)


def exact_tiling(raw: np.ndarray) -> np.ndarray:
    """Re-node raw micro cells so neighbours share vertices exactly and tile without gaps.

    Boundaries are noded on a ``GRID_SIZE_M`` grid and polygonised into faces; each face goes to
    the raw cell holding its interior point (or, for slivers, to the one it overlaps most), and a
    cell becomes the union of its faces.
    """
    lines = shapely.union_all(shapely.boundary(raw), grid_size=GRID_SIZE_M)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(lines)))
    tree = shapely.STRtree(raw)
    hit_face, hit_cell = tree.query(shapely.point_on_surface(faces), predicate="intersects")
    owner = np.full(len(faces), -1, dtype=np.int64)
    n_hits = np.bincount(hit_face, minlength=len(faces))
    single = n_hits[hit_face] == 1
    owner[hit_face[single]] = hit_cell[single]
    for f in np.flatnonzero(owner < 0):  # a handful of slivers at most
        cand = tree.query(faces[f], predicate="intersects")
        if len(cand) == 0:
            cand = np.array([tree.nearest(faces[f])])
        overlap = shapely.area(shapely.intersection(raw[cand], faces[f]))
        if overlap.max() <= 0:
            overlap = shapely.length(shapely.intersection(raw[cand], faces[f].buffer(0.05)))
        owner[f] = cand[int(np.argmax(overlap))]
    out = np.empty(len(raw), dtype=object)
    order = np.argsort(owner, kind="stable")
    bounds = np.searchsorted(owner[order], np.arange(len(raw) + 1))
    for i in range(len(raw)):
        out[i] = shapely.union_all(faces[order[bounds[i] : bounds[i + 1]]], grid_size=GRID_SIZE_M)
    return out


def union_groups(geoms: np.ndarray, group: np.ndarray, n: int) -> np.ndarray:
    """Union of ``geoms`` per group ``0 .. n-1`` (on the ``GRID_SIZE_M`` precision grid)."""
    out = np.empty(n, dtype=object)
    for i in range(n):
        out[i] = shapely.union_all(geoms[group == i], grid_size=GRID_SIZE_M)
    return out
