"""Who may take which step of a case, and which cases a signed-in account sees.

Every step of ``states.STEPS`` needs one permission of ``gis.auth`` (``STEP_PERMISSIONS``):

=====================  =====================================================  ==================
permission             steps                                                  roles
=====================  =====================================================  ==================
``report_cases``       上报                                                    dispatcher, grid
                                                                              worker, admin
``dispatch_cases``     受理, 不予受理, 作废, 立案, 派遣 (level 1), 结案, 回访评价      dispatcher, admin
``handle_cases``       派遣 (level 2), 处置, 回退, 申请延期, 督办回复                  handler, admin
``verify_cases``       核查通过, 返工                                           grid worker, admin
``approve_cases``      延期 (approve), 挂起, 恢复                                 leader, dispatcher
                                                                              (值班长), admin
``supervise_cases``    督办                                                    leader, admin
=====================  =====================================================  ==================

On top of the permission, a scope: a ``handler`` acts only on the cases held by its department
(``users.department``) and sees those and the ones its department assists; a ``grid_worker``
reports, acts on and sees only cases in its grids (``users.grid_codes``: a micro, level-2 or
level-1 grid). Other roles see every case. ``require_step`` raises ``PermissionDenied`` naming
who, what and why, so a forged button or widget value gets the same refusal as the library call.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Connection, Engine

from gis import auth
from gis.auth import PermissionDenied, User
from gis.cases.states import STEPS
from gis.store import casework

#: step -> the permission it needs (``dispatch`` level 2 needs ``handle_cases``, see
#: ``step_permission``)
STEP_PERMISSIONS: dict[str, str] = {
    "report": "report_cases",
    "accept": "dispatch_cases",
    "refuse": "dispatch_cases",
    "void": "dispatch_cases",
    "register": "dispatch_cases",
    "dispatch": "dispatch_cases",
    "close": "dispatch_cases",
    "evaluate": "dispatch_cases",
    "handle": "handle_cases",
    "return": "handle_cases",
    "request_extension": "handle_cases",
    "reply": "handle_cases",
    "verify": "verify_cases",
    "rework": "verify_cases",
    "extend": "approve_cases",
    "suspend": "approve_cases",
    "resume": "approve_cases",
    "supervise": "supervise_cases",
}
assert set(STEP_PERMISSIONS) == set(STEPS)
assert set(STEP_PERMISSIONS.values()) <= set(auth.ACTIONS)


@dataclass(frozen=True)
class CaseScope:
    """Which cases an account sees: all, one department's, or those in some grids.

    Attributes
    ----------
    department
        A handler's department (``None`` for other roles).
    grid_codes
        A grid worker's grids (empty for other roles).
    everything
        The account sees every case.
    """

    department: str | None = None
    grid_codes: tuple[str, ...] = ()
    everything: bool = False

    def covers(self, case: dict, *, acting: bool = False) -> bool:
        """Whether a case (a ``cases`` row) is in the scope; ``acting``: the lead department
        only, not an assisting one."""
        if self.everything:
            return True
        if self.department is not None:
            if case.get("department") == self.department:
                return True
            assists = str(case.get("co_departments") or "").split(";")
            return not acting and self.department in assists
        if self.grid_codes:
            cells = {case.get("grid_code"), case.get("grid_l2"), case.get("grid_l1")}
            return bool(cells & set(self.grid_codes))
        return False


def case_scope(engine_or_conn: Engine | Connection, user: User) -> CaseScope:
    """The scope of ``user``: a handler's department, a grid worker's grids, or everything.

    A handler without a department and a grid worker without grids see nothing.
    """
    if user.role == "handler":
        department = casework.user_department(engine_or_conn, user.username)
        return CaseScope(department=department or "\x00none")
    if user.role == "grid_worker":
        return CaseScope(grid_codes=tuple(user.grid_codes))
    return CaseScope(everything=auth.can(user, "view_cases"))


def step_permission(action: str, case: dict | None = None) -> str:
    """The permission a step needs; a dispatch of a case already dispatched (level 2, inside
    the department) needs ``handle_cases``."""
    if action == "dispatch" and case is not None and case.get("state") == "dispatched":
        return "handle_cases"
    return STEP_PERMISSIONS[action]


def may_take(user: User | None, action: str, case: dict, scope: CaseScope) -> bool:
    """Whether ``user`` (with its ``scope``) may take ``action`` on ``case``."""
    if user is None or not auth.can(user, step_permission(action, case)):
        return False
    return scope.covers(case, acting=True)


def require_step(user: User, action: str, case: dict | None, scope: CaseScope | None) -> None:
    """Raise ``PermissionDenied`` unless ``user`` may take ``action`` on ``case``.

    The message names the account, its role, the step and the roles it needs, or the
    department or grids the account is limited to.
    """
    needed = step_permission(action, case)
    label = STEPS[action].label()
    if not auth.can(user, needed):
        if auth.can(user, "view_cases") and user.active:
            roles = sorted(r for r, acts in auth.PERMISSIONS.items() if needed in acts)
            raise PermissionDenied(
                f"{user.label} ({user.role}) may view cases but not {label}; "
                f"that needs role {' or '.join(roles)}"
            )
        auth.require(user, needed)
    if case is None or scope is None or scope.covers(case, acting=True):
        return
    if scope.department is not None:
        raise PermissionDenied(
            f"{user.label} works for {scope.department}: case {case.get('case_code')} is held "
            f"by {case.get('department') or 'no department'}"
        )
    raise PermissionDenied(
        f"{user.label} works in grids {', '.join(scope.grid_codes) or '(none)'}: case "
        f"{case.get('case_code')} is in grid {case.get('grid_code')}"
    )


__all__ = [
    "STEP_PERMISSIONS",
    "CaseScope",
    "case_scope",
    "may_take",
    "require_step",
    "step_permission",
]
