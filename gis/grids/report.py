"""The validation report of a grid hierarchy: one row per problem, readable in zh and en."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.core.geometry import areas_m2
from gis.core.settings import STORAGE_EPSG

#: columns of ``ValidationReport.problems``, in order
PROBLEM_COLUMNS = [
    "kind",
    "severity",
    "codes",
    "message",
    "message_zh",
    "area_m2",
    "geometry",
    "repaired",
]
#: Display order of the kinds in reports (errors of a kind before its warnings).
PROBLEM_KINDS = (
    "invalid_geometry",
    "duplicate_code",
    "malformed_code",
    "orphan",
    "outside_parent",
    "sibling_overlap",
    "coverage_gap",
    "sliver",
    "isolated",
    "multipart",
)
KIND_ZH = {
    "invalid_geometry": "几何无效",
    "duplicate_code": "编码重复",
    "malformed_code": "编码格式错误",
    "orphan": "上级网格缺失或不符",
    "outside_parent": "超出上级网格",
    "sibling_overlap": "同级网格重叠",
    "coverage_gap": "上级网格未拼接完整（空白）",
    "sliver": "碎片",
    "isolated": "孤立网格（无相邻同级网格）",
    "multipart": "多部件网格",
}


@dataclass
class ValidationReport:
    """The problems of a grid hierarchy, one row each, and how to read them.

    Attributes
    ----------
    problems
        GeoDataFrame (EPSG:4326) with columns ``kind, severity ("error" | "warning"), codes
        (comma-separated grid codes involved), message (English), message_zh, area_m2 (m² in a
        local metric CRS), geometry (where: the offending area, or the grid), repaired`` (for
        ``invalid_geometry`` the ``make_valid`` shape offered, in EPSG:4326; else None).
    n_grids
        Number of grids validated.
    metric_crs
        The CRS areas were measured in.
    """

    problems: gpd.GeoDataFrame
    n_grids: int = 0
    metric_crs: str = ""

    @property
    def errors(self) -> int:
        """Number of problems with severity ``error``."""
        return int((self.problems["severity"] == "error").sum())

    @property
    def warnings(self) -> int:
        """Number of problems with severity ``warning``."""
        return int((self.problems["severity"] == "warning").sum())

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return self.errors == 0

    def counts(self) -> dict[str, int]:
        """Problems per ``kind:severity`` (e.g. ``{"sliver:warning": 12}``)."""
        keys = self.problems["kind"] + ":" + self.problems["severity"]
        return {k: int(v) for k, v in keys.value_counts().sort_index().items()}

    def text(self, lang: str = "en", *, limit: int | None = None) -> str:
        """The report as readable lines: a summary line, then one line per problem.

        Parameters
        ----------
        lang
            ``"en"`` or ``"zh"`` (Chinese, in the terms of the grid standards).
        limit
            Show at most this many problem lines (the summary always counts all).
        """
        zh = lang == "zh"
        if zh:
            head = f"网格校验：{self.n_grids} 个网格，{self.errors} 个错误，{self.warnings} 个警告"
        else:
            head = (
                f"Grid validation: {self.n_grids} grids, {self.errors} error(s), "
                f"{self.warnings} warning(s)"
            )
        lines = [head]
        rows = self.problems if limit is None else self.problems.head(limit)
        for row in rows.itertuples(index=False):
            if zh:
                sev = "错误" if row.severity == "error" else "警告"
                lines.append(f"{sev} [{KIND_ZH.get(row.kind, row.kind)}] {row.message_zh}")
            else:
                lines.append(f"{row.severity.upper()} [{row.kind}] {row.message}")
        if limit is not None and len(self.problems) > limit:
            more = len(self.problems) - limit
            lines.append(f"……另有 {more} 条" if zh else f"... and {more} more")
        return "\n".join(lines)


def format_m2(value: float) -> str:
    """An area in m² for messages: whole m² when large, two decimals when tiny."""
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}" if value >= 1 else f"{value:.2f}"


def sort_problems(problems: pd.DataFrame) -> pd.DataFrame:
    """Errors first, then by kind (``PROBLEM_KINDS`` order) and codes."""
    if not len(problems):
        return problems
    rank = {k: r for r, k in enumerate(PROBLEM_KINDS)}
    sev = (problems["severity"] != "error").astype(int)
    kind = problems["kind"].map(rank)
    order = np.lexsort((problems["codes"].astype(str).to_numpy(), kind.to_numpy(), sev.to_numpy()))
    return problems.iloc[order].reset_index(drop=True)


def validity_point(reason: str, fallback: shapely.Geometry | None) -> shapely.Geometry | None:
    """The location GEOS gives in ``is_valid_reason`` (``"Self-intersection[x y]"``)."""
    if "[" in reason and reason.endswith("]"):
        try:
            x, y = map(float, reason[reason.rindex("[") + 1 : -1].split()[:2])
            return shapely.Point(x, y)
        except ValueError:
            pass
    return None if fallback is None else shapely.point_on_surface(fallback)


def add_repairs(report: ValidationReport, repaired: pd.DataFrame) -> ValidationReport:
    """Report the geometries repaired on import as ``invalid_geometry`` warnings.

    ``repaired`` has ``code, reason`` (GEOS's ``is_valid_reason``) and ``geometry`` (the
    repaired shape, EPSG:4326) per grid; the rows join ``report.problems`` in report order.
    """
    if not len(repaired):
        return report
    area = areas_m2(gpd.GeoSeries(repaired["geometry"].to_numpy(), crs=STORAGE_EPSG))
    rows = gpd.GeoDataFrame(
        {
            "kind": "invalid_geometry",
            "severity": "warning",
            "codes": repaired["code"].to_numpy(),
            "message": [
                f"grid {c}: the file's geometry is invalid ({r}); imported as repaired by "
                f"make_valid ({format_m2(a)} m²)"
                for c, r, a in zip(repaired["code"], repaired["reason"], area, strict=True)
            ],
            "message_zh": [
                f"网格 {c} 的几何无效（{r}），已按 make_valid 修复后导入（{format_m2(a)} m²）"
                for c, r, a in zip(repaired["code"], repaired["reason"], area, strict=True)
            ],
            "area_m2": area,
            "repaired": list(repaired["geometry"]),
        },
        geometry=[
            validity_point(r, g)
            for r, g in zip(repaired["reason"], repaired["geometry"], strict=True)
        ],
        crs=STORAGE_EPSG,
    )[PROBLEM_COLUMNS]
    problems = pd.concat([report.problems, rows], ignore_index=True)
    problems = sort_problems(problems)
    report.problems = gpd.GeoDataFrame(problems, geometry="geometry", crs=STORAGE_EPSG)
    return report
