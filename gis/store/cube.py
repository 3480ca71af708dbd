"""The incident cube: counts per day x category x source x micro-grid x unit, by month.

Pages never read every incident. They read this aggregate, kept in the database next to the
incidents and rebuilt in the same transaction as every write that changes them (an import, a
grid edit that re-keys incidents, a deletion), so it is never out of step.

Layout: one row of ``incident_cube`` per unit family (``grid``, ``h3``, ``fishnet``) and month
(``YYYY-MM``). Its ``payload`` holds the month's incidents grouped by (day, category, source,
micro-grid, unit key) as numpy arrays (``np.savez``): for ``grid`` the unit is the micro-grid
itself; for ``h3`` the resolution-11 cell (coarser cells are its parents); for ``fishnet`` the
50-m lattice cell in the district's metric CRS (coarser cells are integer divisions). Keeping
the micro-grid in every family lets any grid filter (a level-1, level-2 or micro-grid) apply to
every unit family.

A loaded :class:`Cube` (all months of one family) answers a filter — period (whole days),
categories, sources, micro-grids — with a binary search on the day-sorted rows and a mask:
milliseconds for millions of rows. Its size is bounded by units x days x categories x sources,
whatever the number of incidents; in the sparse case it has at most as many rows as incidents
in the month, grouped.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from gis.core.crs import local_metric_crs
from gis.core.errors import StoreError
from gis.taxonomy import category_mask
from gis.units import KEY_H3_RESOLUTIONS, UnitSpec, coarser_fishnet, h3_parents, unit_keys

__all__ = [
    "CUBE_KINDS",
    "Cube",
    "CubeFilter",
    "bump_data_version",
    "data_version",
    "fill_unit_keys",
    "fishnet_epsg",
    "add_to_cube",
    "load_cube",
    "months_of_incidents",
    "rebuild_cube",
    "write_cube_rows",
]

#: The unit families of the cube.
CUBE_KINDS = ("grid", "h3", "fishnet")
_H3_COLUMNS = tuple(f"h3_r{r}" for r in KEY_H3_RESOLUTIONS)
_UNIT_COLUMNS = {"grid": (), "h3": _H3_COLUMNS, "fishnet": ("fx50", "fy50")}
_KEY_COLUMNS = (*_H3_COLUMNS, "fx50", "fy50")
_EPOCH = np.datetime64("1970-01-01", "D")
_MISSING_INT = np.iinfo(np.int64).min


# ------------------------------------------------------------------------------ change counter
def data_version(conn: Connection | Engine) -> int:
    """The store's change counter: bumped by every write that changes incidents or grids, so a
    long-running app (and its caches) notices changes made by the command line."""
    query = sa.text("SELECT value FROM meta WHERE key = 'data_version'")
    if isinstance(conn, Engine):
        with conn.connect() as c:
            value = c.execute(query).scalar()
    else:
        value = conn.execute(query).scalar()
    return int(value) if value is not None else 0


def bump_data_version(conn: Connection) -> int:
    """Add one to the change counter inside the writer's transaction; return the new value."""
    new = data_version(conn) + 1
    updated = conn.execute(
        sa.text("UPDATE meta SET value = :v WHERE key = 'data_version'"), {"v": str(new)}
    ).rowcount
    if not updated:
        conn.execute(
            sa.text("INSERT INTO meta (key, value) VALUES ('data_version', :v)"), {"v": str(new)}
        )
    return new


# ------------------------------------------------------------------------------ unit keys
def fishnet_epsg(
    conn: Connection, lon: np.ndarray | None = None, lat: np.ndarray | None = None
) -> int:
    """The metric CRS (EPSG) of the stored fishnet keys (meta ``fishnet_epsg``).

    Chosen once, when the first keys are computed: the local metric CRS of the current grids
    (CGCS2000 Gauss-Kruger in China, else UTM), else of the stored incidents' extent, else of
    the points about to be stored (``lon``, ``lat``: the first import into an empty store).
    """
    value = conn.execute(sa.text("SELECT value FROM meta WHERE key = 'fishnet_epsg'")).scalar()
    if value is not None:
        return int(value)
    # bounding-box functions are named differently: ST_XMin (PostGIS), ST_MinX (SpatiaLite)
    xmin, ymin, xmax, ymax = (
        ("ST_XMin", "ST_YMin", "ST_XMax", "ST_YMax")
        if conn.dialect.name == "postgresql"
        else ("ST_MinX", "ST_MinY", "ST_MaxX", "ST_MaxY")
    )
    box = conn.execute(
        sa.text(
            f"SELECT MIN({xmin}(geom)), MIN({ymin}(geom)), MAX({xmax}(geom)), MAX({ymax}(geom))"
            " FROM grids WHERE valid_to IS NULL"
        )
    ).one()
    if box[0] is None:
        box = conn.execute(
            sa.text(
                "SELECT MIN(ST_X(geom)), MIN(ST_Y(geom)), MAX(ST_X(geom)), MAX(ST_Y(geom))"
                " FROM incidents"
            )
        ).one()
    if box[0] is None and lon is not None and lat is not None:
        ok = np.isfinite(lon) & np.isfinite(lat)
        if ok.any():
            box = (lon[ok].min(), lat[ok].min(), lon[ok].max(), lat[ok].max())
    if box[0] is None:
        raise StoreError("no grids and no incidents: cannot choose the fishnet's metric CRS")
    epsg = local_metric_crs(
        gpd.GeoSeries([shapely.box(*[float(v) for v in box])], crs=4326)
    ).to_epsg()
    conn.execute(
        sa.text("INSERT INTO meta (key, value) VALUES ('fishnet_epsg', :v)"), {"v": str(epsg)}
    )
    return int(epsg)


def fill_unit_keys(conn: Connection, *, chunk: int = 200_000) -> int:
    """Compute the unit keys of incidents stored without them (rows of older versions).

    Reads ``id, lon, lat`` of at most ``chunk`` rows at a time; returns how many rows got keys.
    Incidents without a location keep NULL keys.
    """
    epsg = fishnet_epsg(conn)
    done = 0
    last = -1
    while True:
        rows = conn.execute(
            sa.text(
                "SELECT id, ST_X(geom), ST_Y(geom) FROM incidents WHERE h3_r11 IS NULL"
                " AND geom IS NOT NULL AND id > :last ORDER BY id LIMIT :n"
            ),
            {"last": last, "n": chunk},
        ).all()
        if not rows:
            return done
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        lon = np.array([r[1] for r in rows], dtype=float)
        lat = np.array([r[2] for r in rows], dtype=float)
        keys = unit_keys(lon, lat, epsg)
        ok = keys["h3_r11"] != 0
        sets = ", ".join(f"{c} = :{c}" for c in _KEY_COLUMNS)
        values = pd.DataFrame({c: keys[c][ok] for c in _KEY_COLUMNS}).assign(i=ids[ok])
        conn.execute(
            sa.text(f"UPDATE incidents SET {sets} WHERE id = :i"),
            [{k: int(v) for k, v in row.items()} for row in values.to_dict("records")],
        )
        done += int(ok.sum())
        last = int(ids[-1])


# ------------------------------------------------------------------------------ building
def _month_bounds(month: str) -> tuple[datetime, datetime]:
    start = pd.Timestamp(f"{month}-01")
    return start.to_pydatetime(), (start + pd.offsets.MonthBegin(1)).to_pydatetime()


def months_of_incidents(
    conn: Connection, where: str = "1 = 1", params: dict | None = None
) -> list[str]:
    """The months (``YYYY-MM``) in which incidents matching ``where`` occurred."""
    first, last = conn.execute(
        sa.text(f"SELECT MIN(occurred_at), MAX(occurred_at) FROM incidents WHERE {where}"),
        params or {},
    ).one()
    if first is None:
        return []
    first, last = pd.Timestamp(first), pd.Timestamp(last)
    months = pd.period_range(first.to_period("M"), last.to_period("M"), freq="M")
    return [str(m) for m in months]


def _encode(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _decode(payload: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(payload), allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def _factorize(values) -> tuple[np.ndarray, np.ndarray]:
    """Codes (int64) and sorted unique strings of ``values`` (None/NaN as "")."""
    text = pd.Series(values, dtype=object).fillna("").astype(str)
    codes, uniques = pd.factorize(text, sort=True)
    return codes.astype(np.int64), np.asarray(uniques, dtype=str)


def _group(columns: dict[str, np.ndarray], n: np.ndarray) -> dict[str, np.ndarray]:
    """Sum ``n`` over rows with equal values in every array of ``columns`` (sorted by the
    columns in order: the first, ``day``, varies slowest)."""
    names = list(columns)
    order = np.lexsort([columns[c] for c in reversed(names)])
    sorted_cols = {c: columns[c][order] for c in names}
    n = n[order]
    if len(n) == 0:
        return {**sorted_cols, "n": n.astype(np.int32)}
    change = np.zeros(len(n), dtype=bool)
    change[0] = True
    for c in names:
        change[1:] |= sorted_cols[c][1:] != sorted_cols[c][:-1]
    starts = np.flatnonzero(change)
    out = {c: sorted_cols[c][starts] for c in names}
    out["n"] = np.add.reduceat(n.astype(np.int64), starts).astype(np.int32)
    return out


def _partition(rows: dict[str, np.ndarray], kind: str) -> dict[str, np.ndarray]:
    """Rows (``day``, ``cat``/``src``/``micro`` strings, the family's unit columns, ``n``)
    grouped for one unit family, with their dictionaries, ready to encode."""
    cat, cats = _factorize(rows["cat"])
    src, srcs = _factorize(rows["src"])
    micro, micros = _factorize(rows["micro"])
    cols = {"day": rows["day"].astype(np.int64), "cat": cat, "src": src, "micro": micro}
    cols.update({c: rows[c].astype(np.int64) for c in _UNIT_COLUMNS[kind]})
    grouped = _group(cols, rows["n"])
    grouped["day"] = grouped["day"].astype(np.int32)
    grouped["cat"] = grouped["cat"].astype(np.int16)
    grouped["src"] = grouped["src"].astype(np.int16)
    grouped["micro"] = grouped["micro"].astype(np.int32)
    return {**grouped, "cats": cats, "srcs": srcs, "micros": micros}


def _partitions(rows: dict[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    return {kind: _partition(rows, kind) for kind in CUBE_KINDS}


def _expand(stored: dict[str, np.ndarray], kind: str) -> dict[str, np.ndarray]:
    """A stored partition back as rows with strings (to merge new rows into it)."""
    out = {
        "day": stored["day"].astype(np.int64),
        "cat": stored["cats"][stored["cat"]],
        "src": stored["srcs"][stored["src"]],
        "micro": stored["micros"][stored["micro"]],
        "n": stored["n"].astype(np.int64),
    }
    out.update({c: stored[c].astype(np.int64) for c in _UNIT_COLUMNS[kind]})
    return out


def _write_month(conn: Connection, month: str, parts: dict[str, dict[str, np.ndarray]]) -> None:
    conn.execute(sa.text("DELETE FROM incident_cube WHERE month = :m"), {"m": month})
    total = int(parts["grid"]["n"].sum())
    if total == 0:
        return
    conn.execute(
        sa.text(
            "INSERT INTO incident_cube (kind, month, payload, n_rows, n_incidents)"
            " VALUES (:k, :m, :p, :r, :n)"
        ),
        [
            {"k": k, "m": month, "p": _encode(a), "r": len(a["n"]), "n": total}
            for k, a in parts.items()
        ],
    )


def _rows_frame(
    occurred_at, category, source, micro, keys: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    stamps = pd.to_datetime(pd.Series(occurred_at)).to_numpy().astype("datetime64[D]")
    out = {
        "day": (stamps - _EPOCH).astype(np.int64),
        "cat": np.asarray(pd.Series(category, dtype=object).fillna(""), dtype=str),
        "src": np.asarray(pd.Series(source, dtype=object).fillna(""), dtype=str),
        "micro": np.asarray(pd.Series(micro, dtype=object).fillna(""), dtype=str),
        "n": np.ones(len(stamps), dtype=np.int64),
    }
    for c in _KEY_COLUMNS:
        fill = 0 if c.startswith("h3") else _MISSING_INT
        out[c] = pd.to_numeric(pd.Series(keys[c]), errors="coerce").fillna(fill).to_numpy(np.int64)
    return out


def _month_key(day: np.ndarray) -> np.ndarray:
    return (_EPOCH + day.astype("timedelta64[D]")).astype("datetime64[M]").astype(str)


def _take(part: dict[str, np.ndarray], mask: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[mask] for k, v in part.items()}


def _cat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def rebuild_cube(conn: Connection, months: Iterable[str] | None = None) -> dict[str, int]:
    """Rebuild the cube's months from ``incidents`` on ``conn`` (the writer's transaction).

    For grid edits and deletions, which change stored incidents; an import adds rows and
    uses :func:`add_to_cube`. Reads one month of incidents at a time.

    Parameters
    ----------
    months
        ``YYYY-MM`` months to rebuild; default every month (the table is emptied first).
        Months left without incidents lose their rows.

    Returns
    -------
    dict
        ``{month: incidents counted}``.
    """
    if months is None:
        months = months_of_incidents(conn)
        conn.execute(sa.text("DELETE FROM incident_cube"))
    counted: dict[str, int] = {}
    cols = ", ".join(_KEY_COLUMNS)
    for month in sorted(set(months)):
        start, end = _month_bounds(month)
        rows = conn.execute(
            sa.text(
                f"SELECT occurred_at, category_code, source, grid_code, {cols}"
                " FROM incidents WHERE occurred_at >= :s AND occurred_at < :e"
            ),
            {"s": start, "e": end},
        ).all()
        if not rows:
            conn.execute(sa.text("DELETE FROM incident_cube WHERE month = :m"), {"m": month})
            counted[month] = 0
            continue
        c = list(zip(*rows, strict=True))
        part = _rows_frame(c[0], c[1], c[2], c[3], dict(zip(_KEY_COLUMNS, c[4:], strict=True)))
        _write_month(conn, month, _partitions(part))
        counted[month] = len(rows)
    bump_data_version(conn)
    return counted


def add_to_cube(conn: Connection, incidents: pd.DataFrame) -> dict[str, int]:
    """Merge newly stored incidents into the cube, in the import's transaction.

    Parameters
    ----------
    incidents
        The rows just written: ``occurred_at, category_code, source, grid_code`` and the unit
        key columns (``h3_r8`` .. ``h3_r11``, ``fx50``, ``fy50``; missing keys count as no
        unit). Each touched month's stored partitions are merged with the new rows and
        regrouped, family by family: the work is bounded by the touched months' cube, never
        by the incidents already stored.

    Returns
    -------
    dict
        ``{month: incidents added}``.
    """
    if len(incidents) == 0:
        return {}
    blank = pd.Series(None, index=incidents.index, dtype=object)
    keys = {
        c: incidents[c].to_numpy() if c in incidents else blank.to_numpy() for c in _KEY_COLUMNS
    }
    new = _rows_frame(
        incidents["occurred_at"].to_numpy(),
        incidents["category_code"].to_numpy(),
        incidents.get("source", blank).to_numpy(),
        incidents.get("grid_code", blank).to_numpy(),
        keys,
    )
    month_of = _month_key(new["day"])
    added: dict[str, int] = {}
    for month in sorted(set(month_of.tolist())):
        mine = _take(new, month_of == month)
        stored = dict(
            conn.execute(
                sa.text("SELECT kind, payload FROM incident_cube WHERE month = :m"), {"m": month}
            ).all()
        )
        parts = {}
        for kind in CUBE_KINDS:
            rows = {k: mine[k] for k in ("day", "cat", "src", "micro", "n", *_UNIT_COLUMNS[kind])}
            if kind in stored:
                rows = _cat([_expand(_decode(stored[kind]), kind), rows])
            parts[kind] = _partition(rows, kind)
        _write_month(conn, month, parts)
        added[month] = int(len(mine["n"]))
    bump_data_version(conn)
    return added


def write_cube_rows(conn: Connection, month: str, kind: str, rows: pd.DataFrame) -> int:
    """Replace one month of one unit family with rows aggregated elsewhere (a cluster).

    For a city whose raw incidents never enter the store: ``gis.scale`` aggregates partitioned
    GeoParquet to the cube's own grain and writes each month here, so pages serve the counts
    as if the incidents had been imported. Runs in the writer's transaction.

    Parameters
    ----------
    month
        ``YYYY-MM``; every row's ``day`` must fall in it.
    kind
        ``grid``, ``h3`` or ``fishnet``.
    rows
        ``day`` (dates or days since 1970-01-01), ``category_code``, ``source``, ``grid_code``
        (the micro-grid; empty when none), the family's unit keys (``h3_r8`` .. ``h3_r11`` or
        ``fx50, fy50``; 0 / the minimum int64 for none) and ``n`` (incidents). Rows with equal
        keys are summed.

    Returns
    -------
    int
        Incidents written for the month.
    """
    if kind not in CUBE_KINDS:
        raise StoreError(f"unknown cube kind {kind!r}; one of {', '.join(CUBE_KINDS)}")
    day = rows["day"]
    if not pd.api.types.is_integer_dtype(day):
        day = (pd.to_datetime(day).to_numpy().astype("datetime64[D]") - _EPOCH).astype(np.int64)
    day = np.asarray(day, dtype=np.int64)
    if len(day) and not (_month_key(day) == month).all():
        raise StoreError(f"cube rows for {month} hold days of another month")
    blank = pd.Series("", index=rows.index, dtype=object)
    data = {
        "day": day,
        "cat": np.asarray(rows["category_code"].astype(object).fillna(""), dtype=str),
        "src": np.asarray(rows.get("source", blank).astype(object).fillna(""), dtype=str),
        "micro": np.asarray(rows.get("grid_code", blank).astype(object).fillna(""), dtype=str),
        "n": rows["n"].to_numpy(dtype=np.int64),
    }
    data.update({c: rows[c].to_numpy(dtype=np.int64) for c in _UNIT_COLUMNS[kind]})
    part = _partition(data, kind)
    total = int(part["n"].sum())
    conn.execute(
        sa.text("DELETE FROM incident_cube WHERE month = :m AND kind = :k"), {"m": month, "k": kind}
    )
    if total:
        conn.execute(
            sa.text(
                "INSERT INTO incident_cube (kind, month, payload, n_rows, n_incidents)"
                " VALUES (:k, :m, :p, :r, :n)"
            ),
            {"k": kind, "m": month, "p": _encode(part), "r": len(part["n"]), "n": total},
        )
    bump_data_version(conn)
    return total


# ------------------------------------------------------------------------------ reading
@dataclass(frozen=True)
class CubeFilter:
    """What the sidebar chose: whole days ``[start, end)``, categories (codes or major
    classes, :func:`gis.taxonomy.category_mask`), sources and micro-grids (None: all)."""

    start: date | None = None
    end: date | None = None
    categories: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    micros: tuple[str, ...] | None = None


@dataclass
class Cube:
    """All months of one unit family, day-sorted, with global dictionaries.

    Attributes
    ----------
    kind
        ``grid``, ``h3`` or ``fishnet``.
    day
        Days since 1970-01-01 (int32), ascending.
    cat, src, micro
        Indices into ``cats``, ``srcs``, ``micros`` (empty string: none recorded).
    n
        Incidents in the row.
    units
        ``{"h3_r11": ...}`` or ``{"fx50": ..., "fy50": ...}`` per row (empty for grid).
    """

    kind: str
    day: np.ndarray
    cat: np.ndarray
    src: np.ndarray
    micro: np.ndarray
    n: np.ndarray
    cats: np.ndarray
    srcs: np.ndarray
    micros: np.ndarray
    units: dict[str, np.ndarray] = field(default_factory=dict)
    version: int = 0

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays, bytes."""
        arrays = [self.day, self.cat, self.src, self.micro, self.n, *self.units.values()]
        return int(sum(a.nbytes for a in arrays))

    @property
    def total(self) -> int:
        """Incidents in the cube."""
        return int(self.n.sum())

    def day_range(self) -> tuple[date | None, date | None]:
        """First and last day with an incident."""
        if not len(self.day):
            return None, None
        first = (_EPOCH + int(self.day[0])).astype(object)
        last = (_EPOCH + int(self.day[-1])).astype(object)
        return first, last

    def select(self, flt: CubeFilter) -> np.ndarray:
        """Row indices of the cube that pass ``flt``."""
        lo, hi = 0, len(self.day)
        if flt.start is not None:
            lo = int(np.searchsorted(self.day, _day_number(flt.start), side="left"))
        if flt.end is not None:
            hi = int(np.searchsorted(self.day, _day_number(flt.end), side="left"))
        rows = np.arange(lo, max(lo, hi))
        keep = np.ones(len(rows), dtype=bool)
        if flt.categories:
            ok = category_mask(pd.Series(self.cats), list(flt.categories))
            keep &= ok[self.cat[rows]]
        if flt.sources:
            ok = np.isin(self.srcs, list(flt.sources))
            keep &= ok[self.src[rows]]
        if flt.micros is not None:
            ok = np.isin(self.micros, list(flt.micros))
            keep &= ok[self.micro[rows]]
        return rows[keep]

    def unit_of_rows(
        self, rows: np.ndarray, spec: UnitSpec, ancestors: dict[str, str] | None = None
    ) -> np.ndarray:
        """The unit id (str, as :mod:`gis.hotspots` names units) of each of ``rows``.

        ``grid:micro`` units are micro-grid codes; ``grid:l2`` / ``grid:l1`` need
        ``ancestors`` (micro code -> ancestor code). ``h3:RES`` ids are H3 cell strings (RES
        ≤ 11); ``fishnet:M`` ids are ``"{M}m_{ix}_{iy}"`` (M a multiple of 50). Rows without
        the unit (no location, outside every grid) give ``""``.
        """
        if spec.kind == "grid":
            codes = self.micros[self.micro[rows]]
            if spec.level != "micro":
                if ancestors is None:
                    raise StoreError(f"{spec}: counting by {spec.level} needs the grid hierarchy")
                table = np.array([ancestors.get(m, "") for m in self.micros], dtype=object)
                codes = table[self.micro[rows]]
            return np.asarray(codes, dtype=object)
        if spec.kind == "h3":
            if self.kind != "h3":
                raise StoreError(f"the {self.kind} cube has no H3 cells")
            res = spec.h3_resolution
            if res in KEY_H3_RESOLUTIONS:
                cells = self.units[f"h3_r{res}"][rows].astype(np.uint64)
            else:  # coarser than every stored key: parents of the coarsest
                coarsest = min(KEY_H3_RESOLUTIONS)
                if res > max(KEY_H3_RESOLUTIONS):
                    raise StoreError(f"{spec}: H3 cells finer than resolution 11 are not stored")
                cells = h3_parents(self.units[f"h3_r{coarsest}"][rows].astype(np.uint64), res)
            uniq, inv = np.unique(cells, return_inverse=True)
            names = np.array([h3.int_to_str(int(c)) if c else "" for c in uniq], dtype=object)
            return names[inv]
        if spec.kind == "fishnet":
            if self.kind != "fishnet":
                raise StoreError(f"the {self.kind} cube has no fishnet cells")
            fx, fy = self.units["fx50"][rows], self.units["fy50"][rows]
            missing = fx == _MISSING_INT
            ix, iy = coarser_fishnet(fx, fy, spec.cell_m)
            pairs = np.stack([ix, iy], axis=1)
            uniq, inv = np.unique(pairs, axis=0, return_inverse=True)
            names = np.array([f"{spec.cell_m:g}m_{a}_{b}" for a, b in uniq.tolist()], dtype=object)
            out = names[inv.ravel()]
            out[missing] = ""
            return out
        raise StoreError(f"the cube cannot count by {spec}")

    def counts(
        self, flt: CubeFilter, spec: UnitSpec, ancestors: dict[str, str] | None = None
    ) -> pd.Series:
        """Incidents per unit within ``flt``: a Series indexed by unit id (units with no
        incident are absent; rows without a unit are dropped)."""
        rows = self.select(flt)
        units = self.unit_of_rows(rows, spec, ancestors)
        out = pd.Series(self.n[rows], dtype=np.int64).groupby(units).sum()
        return out.drop(index="", errors="ignore")

    def daily(self, flt: CubeFilter) -> pd.Series:
        """Incidents per day within ``flt`` (a Series indexed by date; days without incidents
        absent)."""
        rows = self.select(flt)
        days = self.day[rows]
        uniq, inv = np.unique(days, return_inverse=True)
        sums = np.bincount(inv, weights=self.n[rows], minlength=len(uniq)).astype(np.int64)
        return pd.Series(sums, index=pd.to_datetime(_EPOCH + uniq.astype("timedelta64[D]")))

    def by_category(self, flt: CubeFilter) -> pd.Series:
        """Incidents per category code within ``flt``."""
        rows = self.select(flt)
        sums = np.bincount(self.cat[rows], weights=self.n[rows], minlength=len(self.cats))
        return pd.Series(sums.astype(np.int64), index=self.cats).loc[lambda s: s > 0]

    def counts_by_period(
        self,
        flt: CubeFilter,
        spec: UnitSpec,
        step_days: int,
        origin: date,
        ancestors: dict[str, str] | None = None,
    ) -> pd.DataFrame:
        """Incidents per unit and time step: ``unit_id, step, count`` where step ``k`` covers
        days ``[origin + k * step_days, origin + (k + 1) * step_days)``."""
        rows = self.select(flt)
        units = self.unit_of_rows(rows, spec, ancestors)
        step = (self.day[rows] - _day_number(origin)) // int(step_days)
        frame = pd.DataFrame({"unit_id": units, "step": step, "count": self.n[rows]})
        frame = frame[frame["unit_id"] != ""]
        return frame.groupby(["unit_id", "step"], as_index=False)["count"].sum()


def _day_number(value: date | datetime | str) -> int:
    return int((np.datetime64(pd.Timestamp(value).date(), "D") - _EPOCH).astype(np.int64))


def load_cube(engine: Engine | Connection, kind: str) -> Cube:
    """Every month of one unit family as a :class:`Cube` (global dictionaries, day-sorted)."""
    if kind not in CUBE_KINDS:
        raise StoreError(f"unknown cube kind {kind!r}; one of {', '.join(CUBE_KINDS)}")
    query = sa.text("SELECT payload FROM incident_cube WHERE kind = :k ORDER BY month")
    if isinstance(engine, Engine):
        with engine.connect() as conn:
            payloads = conn.execute(query, {"k": kind}).scalars().all()
            version = data_version(conn)
    else:
        payloads = engine.execute(query, {"k": kind}).scalars().all()
        version = data_version(engine)
    parts = [_decode(p) for p in payloads]
    return _concat(kind, parts, version)


def _concat(kind: str, parts: Sequence[dict[str, np.ndarray]], version: int) -> Cube:
    cols = _UNIT_COLUMNS[kind]
    if not parts:
        empty_i = np.zeros(0, dtype=np.int32)
        return Cube(
            kind, empty_i, empty_i.astype(np.int16), empty_i.astype(np.int16), empty_i,
            empty_i, np.zeros(0, dtype=str), np.zeros(0, dtype=str), np.zeros(0, dtype=str),
            {c: np.zeros(0, dtype=np.int64) for c in cols}, version,
        )  # fmt: skip
    cats = np.unique(np.concatenate([p["cats"] for p in parts]))
    srcs = np.unique(np.concatenate([p["srcs"] for p in parts]))
    micros = np.unique(np.concatenate([p["micros"] for p in parts]))

    def remap(key: str, table: np.ndarray, dtype) -> np.ndarray:
        return np.concatenate(
            [np.searchsorted(table, p[key + "s"])[p[key]].astype(dtype) for p in parts]
        )

    return Cube(
        kind=kind,
        day=np.concatenate([p["day"] for p in parts]),
        cat=remap("cat", cats, np.int16),
        src=remap("src", srcs, np.int16),
        micro=remap("micro", micros, np.int32),
        n=np.concatenate([p["n"] for p in parts]),
        cats=cats,
        srcs=srcs,
        micros=micros,
        units={c: np.concatenate([p[c] for p in parts]) for c in cols},
        version=version,
    )
