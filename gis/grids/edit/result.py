"""What one edit operation returns: the whole new hierarchy and what changed in it."""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import pandas as pd

#: the level of dedicated grids (专属网格), which overlay the regular levels
DEDICATED = "dedicated"
#: grid attributes an edit re-estimates by area share
ATTRIBUTES = ("households", "population", "businesses")
#: columns an edit needs in the hierarchy it is given
REQUIRED_COLUMNS = ("code", "name", "level", "parent_code", "geometry")


@dataclass
class EditResult:
    """The outcome of one edit operation: the whole new hierarchy and what changed in it.

    Attributes
    ----------
    grids
        The complete hierarchy after the edit (EPSG:4326, the input's columns). ``version`` is
        the version each grid was loaded with (``<NA>`` for created grids); :func:`save_edit`
        assigns the new versions.
    changed
        Codes kept but with a new geometry or attributes (parent, name, households ...).
    created
        New codes (split pieces, re-coded grids, a new dedicated grid), west→east north→south.
    retired
        Codes that stop being in force (merged away, split, re-coded, retired).
    action
        ``reshape``, ``split``, ``merge``, ``move``, ``add_dedicated`` or ``retire`` (a
        :func:`restore_version` is logged as ``restore``).
    notes
        Human-readable remarks (English): what was clipped, snapped, re-coded, estimated.
    targets
        The grid(s) the user acted on (the others changed as a consequence).
    base
        The rows of the changed and retired grids as they were loaded (geometry and
        ``version``): what :func:`save_edit` expects to find in the store.
    recoded
        ``{old code: new code}`` for grids that only changed code (parent changed).
    """

    grids: gpd.GeoDataFrame
    changed: list[str]
    created: list[str]
    retired: list[str]
    action: str
    notes: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    base: gpd.GeoDataFrame | None = field(default=None, repr=False)
    recoded: dict[str, str] = field(default_factory=dict)

    @property
    def touched(self) -> list[str]:
        """Every code the edit writes or closes: changed, created and retired."""
        return [*self.changed, *self.created, *self.retired]

    @property
    def is_noop(self) -> bool:
        """True when nothing changed (e.g. a drawing equal to the stored shape)."""
        return not (self.changed or self.created or self.retired)

    @property
    def base_versions(self) -> dict[str, int]:
        """``{code: version loaded}`` of the grids the edit closes (changed and retired)."""
        if self.base is None or "version" not in self.base:
            return {}
        out = {}
        for code, version in zip(self.base["code"], self.base["version"], strict=True):
            if version is not None and not pd.isna(version):
                out[code] = int(version)
        return out


def is_missing(value) -> bool:
    """True for None and NaN/NA/NaT (text, even empty, is not missing)."""
    return value is None or (not isinstance(value, str) and pd.isna(value))
