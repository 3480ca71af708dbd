"""The string catalogue: every label the app shows, in Chinese and English.

Pages call ``t(key, lang)``; no page holds its own strings. Category and department names come
from the taxonomy tables (``name_zh`` / ``name_en``), not from here. The texts live in one
module per area (``catalog_common`` for what the shell and several pages share, then one per
page); :data:`CATALOGUE` is their union, and a key defined in two of them is refused at import.

The bottom layer: imports no other ``gis`` module.
"""

from __future__ import annotations

import re

from gis.i18n import (
    catalog_cases,
    catalog_common,
    catalog_data,
    catalog_grids,
    catalog_home,
    catalog_hotspots,
    catalog_patrol,
    catalog_rectification,
    catalog_reports,
    catalog_users,
)

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"


def merge_catalogs(*parts: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """The union of the area catalogues; a key in two of them is an error, not an override."""
    merged: dict[str, dict[str, str]] = {}
    for part in parts:
        twice = sorted(merged.keys() & part.keys())
        if twice:
            raise KeyError(f"catalogue keys defined in two modules: {twice}")
        merged.update(part)
    return merged


CATALOGUE: dict[str, dict[str, str]] = merge_catalogs(
    catalog_common.CATALOG,
    catalog_home.CATALOG,
    catalog_users.CATALOG,
    catalog_grids.CATALOG,
    catalog_hotspots.CATALOG,
    catalog_patrol.CATALOG,
    catalog_rectification.CATALOG,
    catalog_data.CATALOG,
    catalog_reports.CATALOG,
    catalog_cases.CATALOG,
)


def t(key: str, lang: str = DEFAULT_LANG, **fmt) -> str:
    """The text for ``key`` in ``lang``; a missing key raises KeyError (caught by tests)."""
    text = CATALOGUE[key][lang if lang in LANGS else DEFAULT_LANG]
    return text.format(**fmt) if fmt else text


#: ``gis.incidents`` rejection reasons and notes: pattern -> catalogue key (groups are its fields)
_REASONS = (
    (r"malformed row: (?P<f>\d+) fields, expected (?P<e>\d+)", "reason.malformed"),
    (r"no coordinates", "reason.no_coordinates"),
    (r"coordinates are not numbers", "reason.not_numbers"),
    (r"coordinates out of range", "reason.out_of_range"),
    (r"coordinates are 0,0", "reason.zero"),
    (r"unreadable WKT", "reason.bad_wkt"),
    (r"geometry is not a point", "reason.not_point"),
    (r"missing or unreadable occurred_at", "reason.bad_time"),
    (r"occurred_at is in the future", "reason.future"),
    (r"no category", "reason.no_category"),
    (r"unknown category: (?P<text>.*)", "reason.unknown_category"),
    (r"outside the district \(more than (?P<m>[\d.]+) m\)", "reason.outside"),
    (r"duplicate external_id in the file", "reason.dup_in_file"),
    (r"already imported \(external_id exists\)", "reason.already"),
    (r"no grids in the store: the district check was skipped", "reason.note_no_grids"),
    (r"no id column: .*", "reason.note_no_id"),
    (
        r"unbalanced quote at line (?P<line>\d+): the field would run over lines \d+-(?P<end>\d+)",
        "reason.unbalanced_quote",
    ),
    (r"NUL character in field (?P<i>\d+)", "reason.nul"),
    (r"field (?P<i>\d+) longer than (?P<limit>\d+) characters \((?P<n>\d+)\)", "reason.too_long"),
    (r"sheets read: (?P<sheets>.*) \(of (?P<all>.*)\)", "reason.note_sheets"),
    (
        r"coordinates look swapped: read the other way round (?P<swapped>\S+) of the points "
        r"fit \(as read (?P<as_read>\S+)\).*",
        "reason.note_swapped",
    ),
)


def import_reason(reason: str, lang: str = DEFAULT_LANG) -> str:
    """An import's rejection reason (or note) from ``gis.incidents`` in ``lang``.

    Reasons are written in English by the library (and in the rejected-rows CSV); unknown
    texts are returned unchanged.
    """
    for pattern, key in _REASONS:
        match = re.fullmatch(pattern, str(reason), flags=re.DOTALL)
        if match:
            return t(key, lang, **match.groupdict()) if match.groupdict() else t(key, lang)
    return str(reason)


__all__ = ["CATALOGUE", "DEFAULT_LANG", "LANGS", "import_reason", "merge_catalogs", "t"]
