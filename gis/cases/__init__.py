"""The closed loop (案件闭环): cases, their workflow, SLA clocks, routing and assessment metrics.

Modules, one concept each:

- ``calendar``: working days (holidays, 调休 make-up days) and working slots (``WorkCalendar``).
- ``clocks``: deadlines, elapsed and remaining time for the four limit types.
- ``limits``: time limits per category, urgency and stage (``data/case_limits.csv``).
- ``routing``: the two lists (执法清单 / 服务清单) and the suggested dispatch target, with reasons.
- ``states``: the states and steps of a case; ``stages``: the per-stage clocks.
- ``facts``: a case's stored view recomputed from its transitions.
- ``locate``: the grids in force when a case was reported.
- ``roles``: who may take which step; which cases an account sees (department, grids).
- ``workflow``: report a case and take steps (illegal ones and lost updates refused).
- ``whistle``: the street blows the whistle, departments report (吹哨报到), sub-tasks.
- ``intake``: import case histories (数字城管, 12345, 311 files).
- ``metrics``: metrics, score and grade per unit; the red-light list.
"""

from gis.cases.calendar import (
    CALENDAR_CSV,
    DEFAULT_SLOTS,
    WorkCalendar,
    default_calendar,
    parse_slots,
)
from gis.cases.clocks import (
    LIMIT_TYPES,
    WORKING_TYPES,
    add_time,
    deadline,
    deadlines,
    elapsed_ns,
    next_working_moment,
    remaining_ns,
)
from gis.cases.facts import case_facts, rebuild_views, view_after
from gis.cases.intake import CASE_TARGETS, CaseImportResult, detect_case_columns, import_cases
from gis.cases.limits import LIMIT_STAGES, URGENCIES, limits_for, read_case_limits
from gis.cases.locate import locate_cases
from gis.cases.metrics import (
    METRIC_COLUMNS,
    UNITS,
    GradeBands,
    ScoreWeights,
    case_metrics,
    counts_from_transitions,
    finish_metrics,
    metrics_from_transitions,
    parse_by,
    red_light,
)
from gis.cases.roles import (
    STEP_PERMISSIONS,
    CaseScope,
    case_scope,
    may_take,
    require_step,
    step_permission,
)
from gis.cases.routing import (
    HIGHER_PLATFORM,
    STREET_TEAM,
    RouteSuggestion,
    department_label,
    read_routing,
    route_targets,
    suggest_route,
)
from gis.cases.stages import STAGES, stage_clocks
from gis.cases.states import STATES, STEPS, state_label
from gis.cases.whistle import (
    SUMMONING_ROLES,
    finish_task,
    report_in,
    summon,
    whistle_status,
)
from gis.cases.workflow import CaseConflict, IllegalTransition, act, allowed_steps, report_case

__all__ = [
    "CALENDAR_CSV",
    "CASE_TARGETS",
    "CaseConflict",
    "CaseImportResult",
    "DEFAULT_SLOTS",
    "GradeBands",
    "HIGHER_PLATFORM",
    "IllegalTransition",
    "LIMIT_STAGES",
    "LIMIT_TYPES",
    "METRIC_COLUMNS",
    "RouteSuggestion",
    "STAGES",
    "STATES",
    "STEPS",
    "STEP_PERMISSIONS",
    "CaseScope",
    "STREET_TEAM",
    "SUMMONING_ROLES",
    "ScoreWeights",
    "UNITS",
    "URGENCIES",
    "WORKING_TYPES",
    "WorkCalendar",
    "act",
    "add_time",
    "allowed_steps",
    "case_facts",
    "case_metrics",
    "case_scope",
    "counts_from_transitions",
    "deadline",
    "deadlines",
    "default_calendar",
    "department_label",
    "detect_case_columns",
    "elapsed_ns",
    "finish_metrics",
    "finish_task",
    "import_cases",
    "limits_for",
    "locate_cases",
    "may_take",
    "metrics_from_transitions",
    "next_working_moment",
    "parse_by",
    "parse_slots",
    "read_case_limits",
    "read_routing",
    "rebuild_views",
    "red_light",
    "remaining_ns",
    "report_case",
    "report_in",
    "require_step",
    "route_targets",
    "state_label",
    "stage_clocks",
    "step_permission",
    "suggest_route",
    "summon",
    "view_after",
    "whistle_status",
]
