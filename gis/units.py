"""THE unit grammar: what ``--by`` and a page's unit choice mean.

``h3:RES`` (H3 cells of resolution 0-15), ``fishnet:METRES`` (square cells of that side in the
local metric CRS), ``grid:LEVEL`` (the grids of one level: ``l1``, ``l2``, ``micro`` or
``dedicated``) and ``streets`` (street segments, for patrol coverage). Every command line
option and page that chooses units parses it with :meth:`UnitSpec.parse`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pyproj
from h3._cy import latlng_to_cell as _latlng_to_cell

from gis.core.errors import InputError

__all__ = [
    "FISHNET_BASE_M",
    "GRID_UNIT_LEVELS",
    "KEY_H3_RESOLUTIONS",
    "UNIT_GRAMMAR",
    "UnitSpec",
    "coarser_fishnet",
    "fishnet_cells",
    "h3_cells",
    "h3_parents",
    "unit_keys",
]

#: Grid levels a ``grid:LEVEL`` unit may name.
GRID_UNIT_LEVELS = ("l1", "l2", "micro", "dedicated")
#: The grammar, for messages and ``--help``.
UNIT_GRAMMAR = "h3:RES (0-15), fishnet:METRES, grid:LEVEL (l1, l2, micro, dedicated) or streets"
_LEVEL_ALIASES = {"1": "l1", "2": "l2", "level1": "l1", "level2": "l2", "microgrid": "micro"}


@dataclass(frozen=True)
class UnitSpec:
    """A parsed unit choice.

    Attributes
    ----------
    kind
        ``"h3"``, ``"fishnet"``, ``"grid"`` or ``"streets"``.
    h3_resolution
        The H3 resolution (``kind == "h3"``).
    cell_m
        The fishnet cell side in metres (``kind == "fishnet"``).
    level
        The grid level (``kind == "grid"``).
    """

    kind: str
    h3_resolution: int | None = None
    cell_m: float | None = None
    level: str | None = None

    @classmethod
    def parse(
        cls,
        text: str | UnitSpec,
        *,
        allowed: tuple[str, ...] = ("h3", "fishnet", "grid", "streets"),
        default_h3: int = 9,
        default_cell_m: float = 200.0,
    ) -> UnitSpec:
        """Parse ``h3:9``, ``fishnet:200``, ``grid:micro``, ``grid:l1``, ``streets``.

        A bare ``h3``, ``fishnet`` or ``grid`` takes ``default_h3``, ``default_cell_m`` or
        ``micro``; ``micro``, ``l1``, ``l2`` alone mean ``grid:`` that level. Case and spaces
        around ``:`` do not matter. ``allowed`` limits the kinds a command accepts.

        Raises
        ------
        InputError
            Text outside the grammar or a kind not in ``allowed``; the message gives the grammar.
        """
        if isinstance(text, UnitSpec):
            spec = text
        else:
            spec = cls._parse(str(text), default_h3, default_cell_m)
        if spec.kind not in allowed:
            raise InputError(
                f"units {str(spec)!r} are not available here; use "
                + " or ".join(_grammar_of(k) for k in allowed)
            )
        return spec

    @classmethod
    def _parse(cls, text: str, default_h3: int, default_cell_m: float) -> UnitSpec:
        raw = text
        key = re.sub(r"\s+", "", text.strip().lower())
        kind, _, arg = key.partition(":")
        if kind in GRID_UNIT_LEVELS or kind in _LEVEL_ALIASES:
            kind, arg = "grid", kind
        try:
            if kind == "h3":
                res = int(arg) if arg else default_h3
                if not 0 <= res <= 15:
                    raise ValueError("H3 resolutions are 0-15")
                return cls("h3", h3_resolution=res)
            if kind == "fishnet":
                cell = float(arg) if arg else default_cell_m
                if not cell > 0:
                    raise ValueError("the cell side must be positive metres")
                return cls("fishnet", cell_m=cell)
        except ValueError as exc:
            raise InputError(f"bad units {raw!r} ({exc}); use {UNIT_GRAMMAR}") from None
        if kind == "grid":
            level = _LEVEL_ALIASES.get(arg, arg) or "micro"
            if level not in GRID_UNIT_LEVELS:
                raise InputError(f"bad grid level in {raw!r}; use {UNIT_GRAMMAR}")
            return cls("grid", level=level)
        if kind == "streets" and not arg:
            return cls("streets")
        raise InputError(f"bad units {raw!r}; use {UNIT_GRAMMAR}")

    @property
    def value(self) -> int | float | str | None:
        """The argument of the kind: resolution, cell side, level (None for streets)."""
        return {"h3": self.h3_resolution, "fishnet": self.cell_m, "grid": self.level}.get(self.kind)

    def __str__(self) -> str:
        if self.kind == "h3":
            return f"h3:{self.h3_resolution}"
        if self.kind == "fishnet":
            cell = self.cell_m
            return f"fishnet:{int(cell) if float(cell).is_integer() else cell}"
        if self.kind == "grid":
            return f"grid:{self.level}"
        return "streets"


def _grammar_of(kind: str) -> str:
    return {
        "h3": "h3:RES",
        "fishnet": "fishnet:METRES",
        "grid": "grid:LEVEL",
        "streets": "streets",
    }[kind]


# ------------------------------------------------------------------------------ unit keys
# Every incident carries, from the moment it is stored, the keys every page aggregates on:
# its grids (``grid_code`` and its ancestors), its H3 cell at the finest resolution the app
# offers (coarser cells are its parents) and its cell of the fixed 50-m fishnet lattice whose
# origin is (0, 0) of the district's metric CRS (every offered fishnet size is a multiple of
# 50 m, so a coarser cell is an integer division).

#: The H3 resolutions stored per incident (``h3_r8`` .. ``h3_r11``): the ones the app offers.
#: H3 cells do not nest exactly (a child may stick out of its parent), so each offered
#: resolution is its own key; coarser ones are taken as parents of ``h3_r8``.
KEY_H3_RESOLUTIONS = (8, 9, 10, 11)
#: The fishnet lattice stored per incident (``fx50, fy50``), metres.
FISHNET_BASE_M = 50.0

_H3_RES_SHIFT = np.uint64(52)
_H3_RES_MASK = np.uint64(0xF) << _H3_RES_SHIFT


def h3_cells(lon: np.ndarray, lat: np.ndarray, resolution: int) -> np.ndarray:
    """H3 cell (uint64) of each WGS-84 point; 0 where a coordinate is missing.

    h3 4.x has no vectorised API: this loops over the C function ``latlng_to_cell`` (about
    2 M points/s here), which beats converting to strings by 40 %.
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    ok = np.isfinite(lon) & np.isfinite(lat)
    out = np.zeros(len(lon), dtype=np.uint64)
    la, lo = lat[ok].tolist(), lon[ok].tolist()
    out[ok] = np.fromiter(
        (_latlng_to_cell(a, b, resolution) for a, b in zip(la, lo, strict=True)),
        dtype=np.uint64,
        count=len(la),
    )
    return out


def h3_parents(cells: np.ndarray, resolution: int) -> np.ndarray:
    """The parent (uint64) at ``resolution`` of H3 cells (uint64) of a finer resolution.

    Pure bit arithmetic, vectorised: the resolution field is set and the digits finer than
    ``resolution`` are set to 7 (H3's "unused" digit), as ``h3.cell_to_parent`` does. Zeros
    (no cell) stay zero.
    """
    cells = np.asarray(cells, dtype=np.uint64)
    unused = np.uint64((1 << (3 * (15 - resolution))) - 1)
    out = (cells & ~_H3_RES_MASK) | (np.uint64(resolution) << _H3_RES_SHIFT) | unused
    return np.where(cells == 0, np.uint64(0), out)


def fishnet_cells(x: np.ndarray, y: np.ndarray, cell_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Column and row (int64) of metric points in the fishnet lattice of side ``cell_m`` whose
    origin is (0, 0); a coordinate that is NaN gives the minimum int64."""
    with np.errstate(invalid="ignore"):
        ix = np.floor(np.asarray(x, dtype=float) / cell_m)
        iy = np.floor(np.asarray(y, dtype=float) / cell_m)
    bad = ~(np.isfinite(ix) & np.isfinite(iy))
    ix[bad] = iy[bad] = np.iinfo(np.int64).min
    return ix.astype(np.int64), iy.astype(np.int64)


def coarser_fishnet(ix: np.ndarray, iy: np.ndarray, cell_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Cells of side ``cell_m`` (a multiple of :data:`FISHNET_BASE_M`) holding base cells."""
    k = cell_m / FISHNET_BASE_M
    if abs(k - round(k)) > 1e-9 or k < 1:
        raise InputError(
            f"fishnet cells of {cell_m:g} m are not a multiple of the {FISHNET_BASE_M:g}-m lattice"
        )
    k = int(round(k))
    return np.floor_divide(ix, k), np.floor_divide(iy, k)


def unit_keys(lon: np.ndarray, lat: np.ndarray, metric_epsg: int) -> dict[str, np.ndarray]:
    """The stored unit keys of WGS-84 points: ``h3_r8`` .. ``h3_r11`` (int64, H3 < 2**63; 0
    without coordinates) and ``fx50, fy50`` (int64 lattice column and row in ``metric_epsg``;
    the minimum int64 without coordinates)."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    keys = {f"h3_r{r}": h3_cells(lon, lat, r).astype(np.int64) for r in KEY_H3_RESOLUTIONS}
    tr = pyproj.Transformer.from_crs(4326, int(metric_epsg), always_xy=True)
    x, y = tr.transform(lon, lat)
    keys["fx50"], keys["fy50"] = fishnet_cells(np.asarray(x), np.asarray(y), FISHNET_BASE_M)
    return keys
