"""The string catalogue: every label the app shows, in Chinese and English.

Pages call ``t(key, lang)``; no page holds its own strings. Category and department names come
from the taxonomy tables (``name_zh`` / ``name_en``), not from here.
"""

from __future__ import annotations

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"

CATALOGUE: dict[str, dict[str, str]] = {
    "app.title": {
        "zh": "GridLens 网格治理与综合执法",
        "en": "GridLens grid governance & enforcement",
    },
    "app.language": {"zh": "语言 / Language", "en": "Language / 语言"},
    "app.no_data": {
        "zh": "数据库中还没有网格。运行 `gridlens demo` 载入演示街道。",
        "en": "The database has no grids yet. Run `gridlens demo` to load the demo district.",
    },
    "level.l1": {"zh": "一级网格", "en": "Level-1 grids"},
    "level.l2": {"zh": "二级网格", "en": "Level-2 grids"},
    "level.micro": {"zh": "微网格", "en": "Micro-grids"},
    "level.dedicated": {"zh": "专属网格", "en": "Dedicated grids"},
    "map.levels": {"zh": "显示的网格层级", "en": "Grid levels shown"},
    "map.streets": {"zh": "街巷底图", "en": "Street basemap"},
    "metric.area": {"zh": "辖区面积 (km²)", "en": "Area (km²)"},
    "metric.households": {"zh": "户数", "en": "Households"},
    "metric.population": {"zh": "人口", "en": "Population"},
    "metric.staff": {"zh": "网格人员", "en": "Grid staff"},
    "metric.incidents": {"zh": "事件（全部）", "en": "Incidents (all)"},
    "metric.incidents_30d": {"zh": "近30天事件", "en": "Incidents, last 30 days"},
    "metric.fixes": {"zh": "巡查定位点", "en": "Patrol GPS fixes"},
    "section.hierarchy": {"zh": "网格层级", "en": "Grid hierarchy"},
    "section.by_category": {
        "zh": "近30天事件（按小类）",
        "en": "Incidents in the last 30 days by category",
    },
    "table.code": {"zh": "编码", "en": "Code"},
    "table.name": {"zh": "名称", "en": "Name"},
    "table.level": {"zh": "层级", "en": "Level"},
    "table.count": {"zh": "数量", "en": "Count"},
    "table.category": {"zh": "类别", "en": "Category"},
    "caption.offline": {
        "zh": "地图完全离线：底图为本街道自有街巷与网格数据，不加载任何外部瓦片。",
        "en": "The map is fully offline: the basemap is the district's own streets and grids; no tiles are fetched.",
    },
}


def t(key: str, lang: str = DEFAULT_LANG, **fmt) -> str:
    """The text for ``key`` in ``lang``; a missing key raises KeyError (caught by tests)."""
    text = CATALOGUE[key][lang if lang in LANGS else DEFAULT_LANG]
    return text.format(**fmt) if fmt else text
