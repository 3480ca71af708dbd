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
    "nav.home": {"zh": "首页", "en": "Home"},
    "nav.users": {"zh": "用户管理", "en": "Users"},
    "nav.signin": {"zh": "登录", "en": "Sign in"},
    "signin.title": {"zh": "登录 GridLens", "en": "Sign in to GridLens"},
    "signin.caption": {
        "zh": "网格化治理与综合行政执法平台。演示账号见 README。",
        "en": "Grid governance and comprehensive law enforcement. Demo accounts are in the README.",
    },
    "signin.username": {"zh": "用户名", "en": "Username"},
    "signin.password": {"zh": "密码", "en": "Password"},
    "signin.submit": {"zh": "登录", "en": "Sign in"},
    "signin.failed": {
        "zh": "用户名或密码错误，或账号已停用。",
        "en": "Wrong username or password, or the account is disabled.",
    },
    "signin.signout": {"zh": "退出登录", "en": "Sign out"},
    "auth.denied": {"zh": "您的角色无权访问此页面。", "en": "Your role may not open this page."},
    "role.analyst": {"zh": "分析员", "en": "Analyst"},
    "role.leader": {"zh": "领导", "en": "Leader"},
    "role.grid_admin": {"zh": "网格管理员", "en": "Grid admin"},
    "role.admin": {"zh": "系统管理员", "en": "Administrator"},
    "filters.title": {"zh": "筛选", "en": "Filters"},
    "filters.period": {"zh": "时间范围", "en": "Period"},
    "filters.categories": {"zh": "事件类别", "en": "Categories"},
    "filters.sources": {"zh": "来源", "en": "Sources"},
    "filters.grid": {"zh": "网格", "en": "Grid"},
    "filters.all": {"zh": "全部", "en": "All"},
    "filters.all_grids": {"zh": "全部网格", "en": "All grids"},
    "source.patrol": {"zh": "巡查发现", "en": "Patrol"},
    "source.hotline": {"zh": "12345热线", "en": "12345 hotline"},
    "source.camera": {"zh": "视频监控", "en": "Camera"},
    "source.wechat": {"zh": "微信群", "en": "WeChat group"},
    "source.referral": {"zh": "上级转办", "en": "Referral"},
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
    "card.incidents": {"zh": "筛选范围内事件", "en": "Incidents in the filters"},
    "staff.grid_leader": {"zh": "网格长", "en": "Grid leader"},
    "staff.grid_worker": {"zh": "网格员", "en": "Grid worker"},
    "staff.grid_assistant": {"zh": "网格辅助员", "en": "Grid assistant"},
    "staff.enforcement_officer": {"zh": "执法队员", "en": "Enforcement officer"},
    "table.role": {"zh": "角色", "en": "Role"},
    "table.phone": {"zh": "电话", "en": "Phone"},
    "users.title": {"zh": "用户管理", "en": "Users"},
    "users.add": {"zh": "新增用户", "en": "Add a user"},
    "users.display_name": {"zh": "显示名称", "en": "Display name"},
    "users.role": {"zh": "角色", "en": "Role"},
    "users.grids": {"zh": "负责网格（网格管理员）", "en": "Assigned grids (grid admins)"},
    "users.created": {"zh": "已创建用户 {name}", "en": "Created user {name}"},
    "users.active": {"zh": "启用", "en": "Active"},
    "users.toggle": {"zh": "停用/启用所选用户", "en": "Disable / enable the chosen user"},
    "users.pick": {"zh": "选择用户", "en": "User"},
    "users.changed": {"zh": "已更新 {name}", "en": "Updated {name}"},
    "caption.offline": {
        "zh": "地图完全离线：底图为本街道自有街巷与网格数据，不加载任何外部瓦片。",
        "en": "The map is fully offline: the basemap is the district's own streets and grids; no tiles are fetched.",
    },
}


def t(key: str, lang: str = DEFAULT_LANG, **fmt) -> str:
    """The text for ``key`` in ``lang``; a missing key raises KeyError (caught by tests)."""
    text = CATALOGUE[key][lang if lang in LANGS else DEFAULT_LANG]
    return text.format(**fmt) if fmt else text
