"""Taxonomy lookups of the joint rectification tools: severity weights, lead and co-departments
and the names of categories and departments, and which of them a set of incidents involves.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from gis.taxonomy import read_departments, read_taxonomy

#: A category counts as "involved" in a zone or area from this share of its incidents.
MIN_CATEGORY_SHARE = 0.05


@dataclass(frozen=True)
class TaxonomyLookup:
    """The taxonomy and departments tables as dictionaries keyed by category / department code:
    ``weight`` (severity weight), ``lead`` (lead department), ``co`` (co-departments),
    category and department names in Chinese and English, ``joint_team`` (4/X)."""

    weight: dict[str, float]
    lead: dict[str, str]
    co: dict[str, list[str]]
    name_zh: dict[str, str]
    name_en: dict[str, str]
    dept_zh: dict[str, str]
    dept_en: dict[str, str]
    joint_team: dict[str, str]

    def cat_name(self, code: str, lang: str) -> str:
        """The category's name in ``lang`` (``zh`` or ``en``); the code when unknown."""
        names = self.name_zh if lang == "zh" else self.name_en
        return names.get(code, str(code))

    def dept_name(self, code: str, lang: str) -> str:
        """The department's name in ``lang`` (``zh`` or ``en``); the code when unknown."""
        names = self.dept_zh if lang == "zh" else self.dept_en
        return names.get(code, str(code))


def taxonomy_lookup(
    taxonomy: pd.DataFrame | None, departments: pd.DataFrame | None = None
) -> TaxonomyLookup:
    """The lookup of ``taxonomy`` and ``departments`` (default: ``data/taxonomy.csv`` and
    ``data/departments.csv``)."""
    departments = read_departments() if departments is None else departments
    taxonomy = read_taxonomy(departments=departments) if taxonomy is None else taxonomy
    codes = taxonomy["code"].astype(str)
    co = taxonomy.get("co_departments", pd.Series("", index=taxonomy.index)).fillna("")
    weight = pd.to_numeric(taxonomy.get("severity_weight", 1), errors="coerce")
    weight = pd.Series(weight, index=taxonomy.index).fillna(1.0)
    return TaxonomyLookup(
        weight=dict(zip(codes, weight.astype(float), strict=True)),
        lead=dict(zip(codes, taxonomy["department"].astype(str), strict=True)),
        co={c: [d for d in str(v).split(";") if d] for c, v in zip(codes, co, strict=True)},
        name_zh=dict(zip(codes, taxonomy["name_zh"].astype(str), strict=True)),
        name_en=dict(zip(codes, taxonomy["name_en"].astype(str), strict=True)),
        dept_zh=dict(zip(departments["code"], departments["name_zh"], strict=True)),
        dept_en=dict(zip(departments["code"], departments["name_en"], strict=True)),
        joint_team=dict(
            zip(
                departments["code"],
                departments.get("joint_team", pd.Series("", index=departments.index)).fillna(""),
                strict=True,
            )
        ),
    )


def main_categories(codes: pd.Series) -> pd.Series:
    """Counts of the categories with at least ``MIN_CATEGORY_SHARE`` of the incidents (the top
    one always), largest first."""
    counts = codes.astype(str).value_counts()
    if counts.empty:
        return counts
    keep = counts[counts >= MIN_CATEGORY_SHARE * counts.sum()]
    return keep if len(keep) else counts.iloc[:1]


def departments_of(categories: Iterable[str], tax: TaxonomyLookup) -> tuple[list[str], list[str]]:
    """(lead departments, co-departments not leading) of some categories, in first-seen order."""
    lead: list[str] = []
    co: list[str] = []
    for c in categories:
        d = tax.lead.get(c)
        if d and d not in lead:
            lead.append(d)
    for c in categories:
        for d in tax.co.get(c, []):
            if d not in lead and d not in co:
                co.append(d)
    return lead, co
