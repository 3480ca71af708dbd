"""Saved edits: new grid versions with optimistic concurrency, the history, and restore.

:func:`save_edit` writes an edit as new grid versions in one transaction, refusing with
:class:`gis.core.errors.EditConflict` when someone saved a newer version in between;
:func:`grid_history`, :func:`edit_log` and :func:`restore_version` read and undo the history.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy.engine import Connection, Engine

from gis.auth import PermissionDenied, User, get_user, grid_parents, require_grid_edit
from gis.core.errors import EditConflict, InputError
from gis.core.geometry import areas_m2
from gis.core.settings import STORAGE_EPSG
from gis.grids.edit.geometry import SLIVER_M2, as_multi
from gis.grids.edit.result import ATTRIBUTES, EditResult, is_missing
from gis.grids.hierarchy import GRID_COLUMNS
from gis.grids.validate import validate_hierarchy
from gis.store.frames import save_frame
from gis.store.grids import (
    all_grid_codes,
    close_grid_version,
    current_versions,
    ending_edit,
    latest_grid_version,
    max_versions,
    read_current_grid_rows,
    read_grid_edits,
    read_grid_version,
    read_grid_version_pairs,
    read_grid_versions,
    stamp_edit_group,
)


def _now() -> datetime:
    """Wall-clock time to the microsecond (two saves in one second stay ordered)."""
    return datetime.now()


def _user_name(engine: Engine, user) -> tuple[str, Any]:
    """(name, User or None). A name of a stored account stands for that account, so its role
    and grid scope are checked as for the User itself (a bare name must not skip the check);
    other names (CLI, scripts without accounts) are recorded as they are."""
    if isinstance(user, str):
        name = user.strip()
        if not name:
            raise InputError("say who makes the edit (user)")
        stored = get_user(engine, name)
        if stored is not None and not stored.active:
            raise PermissionDenied(f"account {name!r} is disabled")
        return name, stored
    if user is None:
        raise InputError("say who makes the edit (user)")
    return user.username, user


def _check_reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise InputError("give a reason for the change: it is kept in the grid's history")
    return text


def _check_permission(engine: Engine, user_obj, codes: Iterable[str], extra_parents=None):
    if user_obj is None:
        return
    parents = grid_parents(engine)
    parents.update(extra_parents or {})
    for code in codes:
        require_grid_edit(user_obj, code, parents)


def _write_versions(
    conn: Connection,
    *,
    rows: gpd.GeoDataFrame,
    closes: Mapping[str, int],
    before_geoms: Mapping[str, Any],
    user: str,
    reason: str,
    action: str,
    roles: Mapping[str, str],
    details: Mapping[str, Any],
    now: datetime,
) -> int:
    """Close the versions in ``closes`` (checking them) and write ``rows`` as new versions.

    The write path of :func:`gis.grids.import_grids` (``save_frame`` into ``grids`` and
    ``grid_edits``), plus optimistic concurrency: every close is
    ``UPDATE ... WHERE code AND version AND valid_to IS NULL`` and must hit exactly one row.

    Returns
    -------
    int
        The edit group id (the smallest ``grid_edits.id`` of the rows written), also stored as
        ``"group"`` in each row's ``details`` JSON.

    Raises
    ------
    EditConflict
        A closed version is no longer current, or a created code is already current. The
        caller's transaction must roll back (raising out of ``engine.begin()`` does).
    """
    conflicts = []
    for code, version in closes.items():
        hit = close_grid_version(conn, code, int(version), now)
        if hit != 1:
            conflicts.append((code, int(version)))
    new_codes = [c for c in rows["code"] if c not in closes]
    if new_codes:
        present = current_versions(conn, new_codes)
        conflicts.extend((c, None) for c in new_codes if c in present)
    if conflicts:
        raise _conflict(conn, conflicts)
    versions = {c: int(closes[c]) + 1 for c in rows["code"] if c in closes}
    if new_codes:
        top = max_versions(conn, new_codes)
        versions.update({c: top.get(c, 0) + 1 for c in new_codes})
    keep = [c for c in GRID_COLUMNS if c in rows]
    out = gpd.GeoDataFrame(rows[keep].copy(), geometry=rows.geometry.to_numpy(), crs=STORAGE_EPSG)
    out["version"] = [versions[c] for c in out["code"]]
    out["valid_from"] = pd.Timestamp(now)
    out["created_by"] = user
    for col in ATTRIBUTES:
        if col in out:
            out[col] = pd.to_numeric(out[col], errors="coerce").astype("Int64")
    if len(out):
        save_frame(conn, "grids", out)
    token = f"pending-{uuid.uuid4().hex}"
    codes = list(dict.fromkeys([*closes, *rows["code"]]))
    after_geom = dict(zip(out["code"], out.geometry.to_numpy(), strict=True))
    edits = pd.DataFrame(
        {
            "grid_code": codes,
            "action": action,
            "version_before": pd.array([closes.get(c) for c in codes], dtype="Int64"),
            "version_after": pd.array([versions.get(c) for c in codes], dtype="Int64"),
            "edited_by": user,
            "edited_at": pd.Timestamp(now),
            "reason": reason,
            "details": [
                json.dumps(
                    {"group": token, "role": roles.get(c, "changed"), **details}, ensure_ascii=False
                )
                for c in codes
            ],
        }
    )
    edits = gpd.GeoDataFrame(
        edits,
        geometry=[as_multi(after_geom[c]) if c in after_geom else None for c in codes],
        crs=STORAGE_EPSG,
    ).rename_geometry("geom_after")
    edits["geom_before"] = gpd.GeoSeries(
        [as_multi(before_geoms[c]) if before_geoms.get(c) is not None else None for c in codes],
        crs=STORAGE_EPSG,
    )
    save_frame(conn, "grid_edits", edits)
    return stamp_edit_group(conn, token)


def _fmt_time(value) -> str:
    if value is None or pd.isna(value):
        return "an unknown time"
    return pd.Timestamp(value).strftime("%Y-%m-%d %H:%M:%S")


def _conflict(conn, conflicts: list[tuple[str, int | None]]) -> EditConflict:
    """An EditConflict naming, per grid, the version started from and who saved what when."""
    lines, info = [], []
    for code, expected in conflicts:
        latest = latest_grid_version(conn, code)
        item = {"code": code, "expected_version": expected}
        if latest is None:
            lines.append(f"grid {code} is not in the store")
        elif expected is None:
            item.update(version=int(latest[0]), by=latest[1], at=latest[2])
            lines.append(
                f"grid {code} was created by {latest[1]} at {_fmt_time(latest[2])} "
                f"(version {latest[0]}) while you were editing"
            )
        elif latest[3] is not None and int(latest[0]) <= expected:
            who = ending_edit(conn, code, int(latest[0]))
            by, at = (who[0], who[1]) if who else ("someone", latest[3])
            item.update(version=None, by=by, at=at)
            lines.append(
                f"grid {code} (you started from version {expected}) was retired by {by} at "
                f"{_fmt_time(at)}"
            )
        elif int(latest[0]) > expected:
            item.update(version=int(latest[0]), by=latest[1], at=latest[2])
            lines.append(
                f"grid {code}: you started from version {expected}, but {latest[1]} saved "
                f"version {latest[0]} at {_fmt_time(latest[2])}"
            )
        else:
            lines.append(
                f"grid {code}: version {expected} is not in the store (latest is {latest[0]})"
            )
        info.append(item)
    exc = EditConflict(
        "; ".join(lines) + ". Nothing was saved: reload the grids and make the edit again."
    )
    exc.conflicts = info  # type: ignore[attr-defined]
    return exc


def save_edit(
    engine: Engine,
    result: EditResult,
    *,
    user: str | User,
    reason: str,
    expected_versions: Mapping[str, int] | None = None,
) -> int:
    """Save an edit as new grid versions, in one transaction; returns the edit group id.

    Each changed grid's current version is closed (``valid_to`` = now) and a new version
    written (``version`` + 1); each created grid gets a first version (after any earlier use
    of its code); each retired grid is closed only. Every touched grid gets a ``grid_edits``
    row (action, versions before/after, who, when, why, geometry before and after, and
    ``details`` JSON with the group id, the grid's role and the edit's notes).

    Parameters
    ----------
    result
        From one of the edit operations.
    user
        A :class:`gis.auth.User`, or a name (that of a stored account stands for the account),
        whose right to edit every touched grid is then checked (``gis.auth.can_edit_grid``;
        grid admins only within their grids).
    reason
        Why: required, kept in the history.
    expected_versions
        ``{code: version}`` the editor loaded; default ``result.base_versions`` (the versions
        in the frame the edit was made on).

    Returns
    -------
    int
        The edit group id (:func:`edit_log`, :func:`restore_version`).

    Raises
    ------
    InputError
        Empty reason, no user, nothing to save.
    gis.auth.PermissionDenied
        The user may not edit one of the touched grids.
    EditConflict
        Someone saved a newer version of (or retired) a touched grid since it was loaded, or
        created one of the new codes: nothing is written. The message names the grid, the
        version started from, who saved the newer one and when; ``exc.conflicts`` lists them.
    """
    reason = _check_reason(reason)
    name, user_obj = _user_name(engine, user)
    if result.is_noop:
        raise InputError("the edit changes nothing: there is nothing to save")
    expected = dict(result.base_versions)
    expected.update({str(k): int(v) for k, v in (expected_versions or {}).items()})
    closes = {}
    for code in [*result.changed, *result.retired]:
        if code not in expected:
            raise InputError(f"the version of grid {code} the edit started from is not known")
        closes[code] = expected[code]
    after = result.grids
    new_parents = dict(zip(after["code"], after["parent_code"], strict=True))
    _check_permission(
        engine,
        user_obj,
        result.touched,
        {c: (None if is_missing(p) else p) for c, p in new_parents.items() if c in result.created},
    )
    rows = after[after["code"].isin([*result.changed, *result.created])]
    base = result.base if result.base is not None else after.iloc[:0]
    before_geoms = dict(zip(base["code"], base.geometry.to_numpy(), strict=True))
    roles = {c: "changed" for c in result.changed}
    roles.update({c: "created" for c in result.created})
    roles.update({c: "retired" for c in result.retired})
    roles.update({c: "target" for c in result.targets if c in roles})
    details = {"targets": result.targets, "notes": result.notes}
    if result.recoded:
        details["recoded"] = result.recoded
    with engine.begin() as conn:
        return _write_versions(
            conn,
            rows=rows,
            closes=closes,
            before_geoms=before_geoms,
            user=name,
            reason=reason,
            action=result.action,
            roles=roles,
            details=details,
            now=_now(),
        )


def used_codes(engine: Engine) -> set[str]:
    """Every grid code the store has ever held (pass as ``reserved`` so none is reissued)."""
    return all_grid_codes(engine)


def _read_edits(engine_or_conn, code: str | None = None) -> pd.DataFrame:
    """``grid_edits`` without geometries, with ``group`` (int) parsed from ``details``.

    Rows written by other paths (an import) have no group in ``details``: their group is the
    smallest id among rows of the same action, user and time.
    """
    edits = read_grid_edits(engine_or_conn, code)

    def group_of(text):
        try:
            value = json.loads(text).get("group") if text else None
        except (ValueError, AttributeError):
            value = None
        return int(value) if isinstance(value, int) else None

    edits["group"] = pd.array([group_of(d) for d in edits["details"]], dtype="Int64")
    missing = edits["group"].isna()
    if missing.any():
        key = (
            edits["action"].astype(str)
            + "|"
            + edits["edited_by"].astype(str)
            + "|"
            + edits["edited_at"].astype(str)
        )
        first = edits.groupby(key)["id"].transform("min")
        edits.loc[missing, "group"] = first[missing].astype("int64")
    for col in ("version_before", "version_after"):
        edits[col] = pd.to_numeric(edits[col], errors="coerce").astype("Int64")
    return edits


def grid_history(engine: Engine, code: str) -> pd.DataFrame:
    """Every version of grid ``code``, oldest first: who, when, why, and its area.

    Returns
    -------
    pandas.DataFrame
        ``version, valid_from, valid_to, current, action, edited_by, edited_at, reason, group,
        name, parent_code, area_m2``, in time order; a version loaded without an edit record
        (the demo) has action ``loaded`` and ``created_by`` as editor. Each time the grid was
        retired, a row with ``version`` <NA> and the retiring edit's action says by whom, when
        and why.
    """
    versions = read_grid_versions(engine, code)
    cols = [
        "version",
        "valid_from",
        "valid_to",
        "current",
        "action",
        "edited_by",
        "edited_at",
        "reason",
        "group",
        "name",
        "parent_code",
        "area_m2",
    ]
    if versions.empty:
        return pd.DataFrame(columns=cols)
    edits = _read_edits(engine, code)
    made = edits.dropna(subset=["version_after"]).drop_duplicates("version_after", keep="last")
    made = made.set_index(made["version_after"].astype("int64"))
    v = versions["version"].astype("int64")
    got = made.reindex(v.to_numpy())
    found = got["id"].notna().to_numpy()
    out = pd.DataFrame(
        {
            "version": pd.array(v, dtype="Int64"),
            "valid_from": versions["valid_from"],
            "valid_to": versions["valid_to"],
            "current": versions["valid_to"].isna(),
            "action": np.where(found, got["action"].to_numpy(object), "loaded"),
            "edited_by": np.where(
                found, got["edited_by"].to_numpy(object), versions["created_by"].to_numpy(object)
            ),
            "edited_at": pd.to_datetime(
                np.where(
                    found,
                    got["edited_at"].to_numpy("datetime64[ns]"),
                    versions["valid_from"].to_numpy("datetime64[ns]"),
                )
            ),
            "reason": got["reason"].to_numpy(object),
            "group": pd.array(got["group"].to_numpy(), dtype="Int64"),
            "name": versions["name"],
            "parent_code": versions["parent_code"],
            "area_m2": areas_m2(versions.geometry),
        }
    )
    ended = edits[edits["version_after"].isna()]
    for _, last in ended.iterrows():  # retirements: one row each, in time order
        out.loc[len(out)] = {
            "version": pd.NA,
            "valid_from": last["edited_at"],
            "valid_to": pd.NaT,
            "current": False,
            "action": last["action"],
            "edited_by": last["edited_by"],
            "edited_at": last["edited_at"],
            "reason": last["reason"],
            "group": last["group"],
            "name": None,
            "parent_code": None,
            "area_m2": 0.0,
        }
    out = out.sort_values("edited_at", kind="stable")
    return out.reset_index(drop=True)


def edit_log(engine: Engine, limit: int = 50) -> pd.DataFrame:
    """The latest edits, one row per edit group, newest first.

    Returns
    -------
    pandas.DataFrame
        ``group, action, edited_by, edited_at, reason, targets, codes, n_grids`` (``codes``:
        every grid the edit touched, comma-separated; ``targets``: the ones acted on).
    """
    edits = _read_edits(engine)
    cols = ["group", "action", "edited_by", "edited_at", "reason", "targets", "codes", "n_grids"]
    if edits.empty:
        return pd.DataFrame(columns=cols)

    def targets(texts):
        for t in texts:
            try:
                got = json.loads(t).get("targets") if t else None
            except (ValueError, AttributeError):
                got = None
            if got:
                return ", ".join(got)
        return ""

    g = edits.groupby("group", sort=False)
    out = pd.DataFrame(
        {
            "action": g["action"].first(),
            "edited_by": g["edited_by"].first(),
            "edited_at": g["edited_at"].first(),
            "reason": g["reason"].first(),
            "targets": g["details"].agg(targets),
            "codes": g["grid_code"].agg(lambda s: ", ".join(dict.fromkeys(s))),
            "n_grids": g["grid_code"].nunique(),
        }
    )
    out.index.name = "group"
    out = out.reset_index().sort_values("group", ascending=False, kind="stable")
    out["group"] = out["group"].astype("int64")
    return out.head(limit).reset_index(drop=True)[cols]


def restore_version(
    engine: Engine,
    code: str,
    version: int,
    *,
    user: str | User,
    reason: str,
    sliver_m2: float = SLIVER_M2,
) -> int:
    """Bring back version ``version`` of grid ``code``, with the neighbours that changed with it.

    Semantics: a grid never changes alone (its siblings gave or took the area), so restoring
    one version means undoing the **edit group that ended it** and every later edit group that
    touched any grid involved (transitively). Each grid involved gets back the state it had
    just before the first of those edits: a new version is written whose geometry is exactly
    (WKB-equal) the earlier one, with the earlier name, parent and numbers; grids created by
    those edits are retired, grids they retired come back. History is never deleted: the
    restore is itself an edit (action ``restore``) with who, when and why.

    The restored hierarchy is validated first: if it would have more errors than the current
    one (say a later edit elsewhere now overlaps the old shape), nothing is written and the
    new errors are named.

    Returns
    -------
    int
        The edit group id of the restore.

    Raises
    ------
    InputError
        Unknown grid or version, the version is the current one, no recorded edit ended it,
        empty reason, or the restored state would be invalid.
    EditConflict
        Someone saved one of the grids involved while the restore ran.
    """
    reason = _check_reason(reason)
    name, user_obj = _user_name(engine, user)
    code, version = str(code), int(version)
    row = read_grid_version(engine, code, version, columns=["version", "valid_to"])
    if row.empty:
        raise InputError(f"grid {code} has no version {version}")
    if pd.isna(row["valid_to"].iloc[0]):
        raise InputError(f"version {version} of grid {code} is the current one: nothing to restore")
    edits = _read_edits(engine)
    ended = edits[(edits["grid_code"] == code) & (edits["version_before"] == version)]
    if ended.empty:
        raise InputError(f"no recorded edit ended version {version} of grid {code}")
    first = ended.iloc[0]
    order = edits.groupby("group")["id"].min().sort_values()
    groups = order.index[order >= order[first["group"]]].tolist()
    by_group = {g: set(edits.loc[edits["group"] == g, "grid_code"]) for g in groups}
    involved = set(by_group[first["group"]])
    used = [first["group"]]
    for g in groups[1:]:
        if by_group[g] & involved:
            involved |= by_group[g]
            used.append(g)
    rel = edits[edits["group"].isin(used) & edits["grid_code"].isin(involved)].sort_values("id")
    target_version = rel.drop_duplicates("grid_code", keep="first").set_index("grid_code")[
        "version_before"
    ]
    codes = sorted(involved)
    with engine.connect() as conn:
        current = read_current_grid_rows(conn, order_by="code")
        wanted = [(c, int(v)) for c, v in target_version.items() if not pd.isna(v)]
        old = read_grid_version_pairs(conn, wanted)
    cur_idx = current.set_index("code")
    closes: dict[str, int] = {}
    write = []
    for c in codes:
        tv = target_version.get(c)
        has_target = tv is not None and not pd.isna(tv)
        cur = cur_idx.loc[c] if c in cur_idx.index else None
        if not has_target:
            if cur is not None:
                closes[c] = int(cur["version"])
            continue
        target = old.loc[(c, int(tv))]
        if cur is not None and _same_state(cur, target):
            continue
        if cur is not None:
            closes[c] = int(cur["version"])
        write.append(c)
    if not closes and not write:
        raise InputError(
            "the grids of that edit are already as they were before it: nothing to restore"
        )
    rows = (
        old.loc[[(c, int(target_version[c])) for c in write]]
        .reset_index()
        .drop(columns=["version"])
    )
    rows = gpd.GeoDataFrame(rows, geometry="geometry", crs=STORAGE_EPSG)
    restored = pd.concat(
        [current[~current["code"].isin(list(closes) + write)], rows], ignore_index=True
    )
    restored = gpd.GeoDataFrame(restored, geometry="geometry", crs=STORAGE_EPSG)
    now_report = validate_hierarchy(current, sliver_m2=sliver_m2)
    new_report = validate_hierarchy(restored, sliver_m2=sliver_m2)
    if new_report.errors > now_report.errors:
        old_keys = set(zip(now_report.problems["kind"], now_report.problems["codes"], strict=True))
        fresh = new_report.problems[
            (new_report.problems["severity"] == "error")
            & np.array(
                [
                    (k, c) not in old_keys
                    for k, c in zip(
                        new_report.problems["kind"], new_report.problems["codes"], strict=True
                    )
                ],
                dtype=bool,
            )
        ]
        msgs = "; ".join(fresh["message"].head(5))
        raise InputError(
            f"restoring version {version} of {code} would make the hierarchy invalid "
            f"({new_report.errors - now_report.errors} new error(s): {msgs}); nothing was written"
        )
    parents = {r.code: r.parent_code for r in rows.itertuples()}
    _check_permission(engine, user_obj, [*closes, *write], parents)
    before_geoms = dict(zip(current["code"], current.geometry.to_numpy(), strict=True))
    roles = {c: ("retired" if c not in write else "changed") for c in closes}
    roles.update({c: "created" for c in write if c not in closes})
    roles[code] = "target" if code in roles else roles.get(code, "target")
    details = {
        "targets": [code],
        "restored": {"code": code, "version": version, "groups": [int(g) for g in used]},
    }
    with engine.begin() as conn:
        return _write_versions(
            conn,
            rows=rows,
            closes=closes,
            before_geoms=before_geoms,
            user=name,
            reason=reason,
            action="restore",
            roles=roles,
            details=details,
            now=_now(),
        )


def _same_state(cur: pd.Series, target: pd.Series) -> bool:
    if shapely.to_wkb(cur["geometry"]) != shapely.to_wkb(target["geometry"]):
        return False
    for col in ("name", "level", "parent_code", "kind", *ATTRIBUTES):
        a, b = cur.get(col), target.get(col)
        if is_missing(a) and is_missing(b):
            continue
        if is_missing(a) or is_missing(b) or a != b:
            return False
    return True
