"""THE unit grammar: what ``--by`` and a page's unit choice mean.

``h3:RES`` (H3 cells of resolution 0-15), ``fishnet:METRES`` (square cells of that side in the
local metric CRS), ``grid:LEVEL`` (the grids of one level: ``l1``, ``l2``, ``micro`` or
``dedicated``) and ``streets`` (street segments, for patrol coverage). Every command line
option and page that chooses units parses it with :meth:`UnitSpec.parse`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gis.core.errors import InputError

__all__ = ["GRID_UNIT_LEVELS", "UNIT_GRAMMAR", "UnitSpec"]

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
