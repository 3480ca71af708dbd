"""Grid codes: 15 digits (county 6 + street 3 + community 3 + grid sequence 3; legacy 14
digits), numbered west→east, north→south; a full sequence is an error, never a wrap.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.core.errors import InputError
from gis.core.geometry import to_metric
from gis.grids.hierarchy import clean_code


class SequenceFullError(InputError, ValueError):
    """顺序码已满: a parent has no sequence number left for another child (never wraps)."""


def number_west_east_north_south(
    points_xy: np.ndarray, band_m: float, max_seq: int | None = None
) -> np.ndarray:
    """Sequence numbers west->east, north->south (the grid-code numbering rule).

    Points are cut into horizontal rows of height ``band_m`` counted down from the northernmost
    point; rows are numbered north to south and, inside a row, points west to east.

    Parameters
    ----------
    points_xy
        ``(n, 2)`` representative points in a metric CRS (x east, y north; metres).
    band_m
        Row height in metres; about ``sqrt(mean child area)`` works well.
    max_seq
        Largest sequence number the code has room for (8 level-2 grids, 99 micro-grids);
        ``None`` for no limit.

    Returns
    -------
    numpy.ndarray
        ``int64`` array of 1-based sequence numbers, aligned with ``points_xy``.

    Raises
    ------
    SequenceFullError
        ``顺序码已满`` when there are more points than ``max_seq`` (never wraps); it is both an
        ``InputError`` and a ``ValueError``.
    ValueError
        On bad input.
    """
    pts = np.asarray(points_xy, dtype=float)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"points_xy must have shape (n, 2), got {pts.shape}")
    if not band_m > 0:
        raise ValueError(f"band_m must be positive, got {band_m}")
    n = len(pts)
    if max_seq is not None and n > max_seq:
        raise SequenceFullError(
            f"顺序码已满 (sequence full): {n} grids but only {max_seq} sequence numbers in the parent"
        )
    if n == 0:
        return np.empty(0, dtype=np.int64)
    row = np.floor((pts[:, 1].max() - pts[:, 1]) / band_m).astype(np.int64)
    order = np.lexsort((pts[:, 0], row))
    seq = np.empty(n, dtype=np.int64)
    seq[order] = np.arange(1, n + 1)
    return seq


def parse_code(code: str) -> dict[str, str | int]:
    """Split a 15-digit (or legacy 14-digit) grid code into its parts.

    Returns
    -------
    dict
        ``county`` (6 digits, GB/T 2260), ``street`` (3), ``community`` (3), ``seq`` (the grid
        sequence block as text: 3 digits, or 2 in a legacy code; ``"000"`` for a community-level
        grid), ``digits`` (14 or 15).

    Raises
    ------
    InputError
        When ``code`` is not 14 or 15 digits.
    """
    text = clean_code(code) or ""
    if not (text.isdigit() and len(text) in (14, 15)):
        raise InputError(f"{code!r} is not a 15-digit (or legacy 14-digit) grid code")
    return {
        "county": text[:6],
        "street": text[6:9],
        "community": text[9:12],
        "seq": text[12:],
        "digits": len(text),
    }


def _child_slot(parent_code: str, digits: int, dedicated: bool) -> tuple[str, str, int]:
    """``(prefix, suffix, width)``: a child's code is prefix + seq (``width`` digits) + suffix.

    GridLens fills the grid sequence from the left, one level at a time: below a community
    (its level-1 grid ends in ``000``) a level-2 grid takes the first digit (1-8; 9 is kept for
    dedicated grids, ``9nn``), below a level-2 grid (``d00``) a micro-grid takes the last two
    (01-99). A 12-digit community code takes a plain 3-digit sequence, a 9-digit street code a
    3-digit community number (the child is the community's level-1 grid, ``...000``). Legacy
    14-digit codes work the same way with a 2-digit sequence.
    """
    code = clean_code(parent_code) or ""
    if not code.isdigit():
        raise InputError(f"parent code {parent_code!r} is not a digit code")
    if digits not in (14, 15):
        raise InputError(f"digits must be 15 or 14 (legacy), not {digits}")
    tail = digits - 12
    if len(code) == 9:
        return code, "0" * tail, 3
    if len(code) == 12:
        return code, "", tail
    if len(code) not in (14, 15):
        raise InputError(f"parent code {parent_code!r} is not 9, 12, 14 or 15 digits")
    prefix, block = code[:12], code[12:]
    if set(block) == {"0"}:
        if dedicated:
            return prefix + "9", "", len(block) - 1
        return prefix, "0" * (len(block) - 1), 1
    if block[1:] == "0" * (len(block) - 1) and not dedicated:
        return prefix + block[0], "", len(block) - 1
    raise InputError(f"grid {code} has no room for child grids in its code")


def _max_seq(parent_code: str, width: int, dedicated: bool) -> int:
    code = clean_code(parent_code) or ""
    if len(code) in (14, 15) and width == 1 and not dedicated:
        return 8  # level-2 digit 9 is kept for dedicated grids
    return 10**width - 1


def grid_code(parent_code: str, seq: int, *, digits: int = 15, dedicated: bool = False) -> str:
    """The code of child number ``seq`` of ``parent_code``.

    Parameters
    ----------
    parent_code
        A 15- or legacy 14-digit grid code (the child keeps its length), a 12-digit community
        code or a 9-digit street code (the child gets ``digits`` digits).
    seq
        1-based sequence number.
    digits
        Length of the code for children of 9- and 12-digit codes: 15, or 14 (legacy).
    dedicated
        Code a dedicated grid (专属网格) under a community-level grid: ``9nn``.

    Raises
    ------
    SequenceFullError
        ``顺序码已满`` when ``seq`` does not fit (1-8 level-2 grids, 1-99 micro-grids ...).

    Examples
    --------
    >>> grid_code("140581001001000", 3)
    '140581001001300'
    >>> grid_code("140581001001300", 12)
    '140581001001312'
    """
    code = clean_code(parent_code) or ""
    if len(code) in (14, 15):
        digits = len(code)
    prefix, suffix, width = _child_slot(code, digits, dedicated)
    top = _max_seq(code, width, dedicated)
    if not 1 <= int(seq) <= top:
        if int(seq) > top:
            raise SequenceFullError(
                f"顺序码已满 (sequence full): {code} has room for {top} children, not {seq}"
            )
        raise InputError(f"sequence numbers start at 1, not {seq}")
    return f"{prefix}{int(seq):0{width}d}{suffix}"


def _used_sequences(existing_codes, parent_code: str, digits: int, dedicated: bool) -> set[int]:
    prefix, suffix, width = _child_slot(parent_code, digits, dedicated)
    used = set()
    for c in existing_codes:
        c = clean_code(c)
        if (
            c
            and len(c) == len(prefix) + width + len(suffix)
            and c.startswith(prefix)
            and c.endswith(suffix)
        ):
            body = c[len(prefix) : len(prefix) + width]
            if body.isdigit() and int(body) > 0:
                used.add(int(body))
    return used


def next_free_codes(
    existing_codes,
    parent_code: str,
    n: int,
    *,
    digits: int = 15,
    dedicated: bool = False,
    reuse: bool = False,
) -> list[str]:
    """``n`` new child codes for ``parent_code`` that no existing code uses.

    New numbers follow the highest one in use, so a retired grid's code is not handed to a
    different area (pass every code ever used, history included, to be sure). With ``reuse``
    the lowest unused numbers are taken instead, gaps first.

    Raises
    ------
    SequenceFullError
        ``顺序码已满`` when fewer than ``n`` numbers are left.
    """
    code = clean_code(parent_code) or ""
    if len(code) in (14, 15):
        digits = len(code)
    _, _, width = _child_slot(code, digits, dedicated)
    top = _max_seq(code, width, dedicated)
    used = _used_sequences(existing_codes, code, digits, dedicated)
    if reuse:
        free = [s for s in range(1, top + 1) if s not in used][:n]
    else:
        start = max(used, default=0) + 1
        free = list(range(start, min(start + n, top + 1)))
    if len(free) < n:
        hint = "" if reuse else "; reuse=True would fill the gaps" if len(used) < top else ""
        raise SequenceFullError(
            f"顺序码已满 (sequence full): {code} has {len(free)} free sequence number(s), "
            f"{n} needed{hint}"
        )
    return [grid_code(code, s, digits=digits, dedicated=dedicated) for s in free]


def number_children(
    children: gpd.GeoDataFrame,
    parent_code: str,
    *,
    start: int = 1,
    digits: int = 15,
    dedicated: bool = False,
) -> pd.Series:
    """Codes for ``children`` of ``parent_code``, numbered west->east, north->south.

    Representative points (``point_on_surface``) are taken in the local metric CRS and numbered
    by ``number_west_east_north_south`` with rows ``sqrt(mean child area)`` high, the rule the
    demo district was coded with.

    Parameters
    ----------
    children
        Polygons (EPSG:4326 or any CRS).
    start
        First sequence number (e.g. one after the highest in use).

    Returns
    -------
    pandas.Series
        Codes (str), index of ``children``.

    Raises
    ------
    SequenceFullError
        ``顺序码已满`` when the children do not fit in the parent's sequence.
    """
    if len(children) == 0:
        return pd.Series([], index=children.index, dtype=object)
    metric, _ = to_metric(children.geometry)
    rep = shapely.get_coordinates(shapely.point_on_surface(metric.to_numpy()))
    band = float(np.sqrt(max(metric.area.mean(), 1e-6)))
    code = clean_code(parent_code) or ""
    width = _child_slot(code, len(code) if len(code) in (14, 15) else digits, dedicated)[2]
    top = _max_seq(code, width, dedicated)
    seq = number_west_east_north_south(rep, band, max_seq=max(top - int(start) + 1, 0))
    seq = seq + int(start) - 1
    codes = [grid_code(code, int(s), digits=digits, dedicated=dedicated) for s in seq]
    return pd.Series(codes, index=children.index, dtype=object)
