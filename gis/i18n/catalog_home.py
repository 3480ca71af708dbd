"""Catalogue texts (zh/en): The home page: this week against last week, the map and the grid card."""

from __future__ import annotations

CATALOG: dict[str, dict[str, str]] = {
    "home.week": {
        "zh": "本周（{start} 至 {end}）与上周对比",
        "en": "This week ({start} to {end}) against last week",
    },
    "home.new_this_week": {"zh": "本周新增事件", "en": "New incidents this week"},
    "home.on_time": {"zh": "按期结案率", "en": "Closed on time"},
    "home.on_time_help": {
        "zh": "本周到期的案件中按时限结案的比例（时限见事件分类表）。",
        "en": "Share of the cases due this week that were closed within their class's time limit.",
    },
    "home.due": {"zh": "本周到期 {n} 件", "en": "{n} cases due this week"},
    "home.in_filter": {"zh": "筛选范围内事件", "en": "Incidents in the filters"},
    "home.trend": {"zh": "每日事件趋势", "en": "Incidents per day"},
    "home.by_category": {"zh": "本周与上周（按小类）", "en": "This week and last week by category"},
    "home.this_week": {"zh": "本周", "en": "This week"},
    "home.last_week": {"zh": "上周", "en": "Last week"},
    "home.change": {"zh": "变化", "en": "Change"},
    "home.map_title": {"zh": "网格事件密度", "en": "Incident density by grid"},
    "home.map_level": {"zh": "网格层级", "en": "Grid level"},
    "home.measure": {"zh": "指标", "en": "Measure"},
    "home.per_km2": {"zh": "每平方公里事件数", "en": "Incidents per km²"},
    "home.per_1000": {"zh": "每千人事件数", "en": "Incidents per 1,000 residents"},
    "home.legend": {"zh": "图例（分位数分级）", "en": "Legend (quantile classes)"},
    "home.unit.per_km2": {"zh": "件/km²", "en": "per km²"},
    "home.unit.per_1000": {"zh": "件/千人", "en": "per 1,000 residents"},
    "home.tip_incidents": {"zh": "事件", "en": "Incidents"},
    "home.date": {"zh": "日期", "en": "Date"},
    "home.week_of": {"zh": "周（起始日）", "en": "Week starting"},
    "home.card": {"zh": "网格信息卡", "en": "Grid card"},
    "home.card_pick": {
        "zh": "点击地图上的网格，或在此选择",
        "en": "Click a grid on the map, or choose it here",
    },
    "home.none": {"zh": "（未选择）", "en": "(none)"},
    "card.code": {"zh": "网格编码", "en": "Grid code"},
    "card.level": {"zh": "层级", "en": "Level"},
    "card.parent": {"zh": "上级网格", "en": "Parent grid"},
    "card.staff": {"zh": "网格人员", "en": "Staff"},
}
