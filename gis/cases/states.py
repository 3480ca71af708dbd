"""The states of a case and the steps between them (the closed loop, 案件闭环).

::

    上报 reported ─受理 accept─▶ accepted ─立案 register─▶ registered ─派遣 dispatch─▶ dispatched
       │ 不予受理 refuse ▶ rejected      │ 作废 void ▶ voided     ▲ 回退 return ┘   │ 二级派遣 dispatch
       └ 作废 void ▶ voided                                                       ▼
    dispatched ─处置 handle─▶ handled ─核查通过 verify─▶ verified ─结案 close─▶ closed
                                 └ 返工 rework (核查未通过) ▶ dispatched
    closed ─回访评价 evaluate─▶ evaluated            (hotline cases only)

Exceptions: 申请延期 ``request_extension`` (the handler asks) and 延期 ``extend`` (approved:
dispatched, before the deadline; adds one full limit), 挂起
``suspend`` / 恢复 ``resume`` (pauses the clock; back to the state it left), 督办 ``supervise``
(a leader's flag on an open case) and its ``reply``. Dispatch level 1 goes to the street team,
a department or the higher platform (escalation); level 2 (from ``dispatched``) goes to a team or
officer inside the same department.
"""

from __future__ import annotations

from dataclasses import dataclass

#: state -> (Chinese, English)
STATES: dict[str, tuple[str, str]] = {
    "reported": ("上报", "reported"),
    "accepted": ("受理", "accepted"),
    "rejected": ("不予受理", "not accepted"),
    "voided": ("作废", "voided"),
    "registered": ("立案", "registered"),
    "dispatched": ("派遣", "dispatched"),
    "handled": ("处置", "handled"),
    "verified": ("核查通过", "verified"),
    "suspended": ("挂起", "suspended"),
    "closed": ("结案", "closed"),
    "evaluated": ("回访评价", "evaluated"),
}
#: states of a case that is still being worked on (a supervision may be put on them)
OPEN_STATES = (
    "reported",
    "accepted",
    "registered",
    "dispatched",
    "handled",
    "verified",
    "suspended",
)
#: states in which the case clock may be paused
SUSPENDABLE = ("registered", "dispatched", "handled")
#: where a level-1 dispatch may send a case
TARGET_KINDS = ("street_team", "department", "higher_platform")
#: sources whose cases get a callback and evaluation (回访/评价)
HOTLINE_SOURCES = ("hotline", "12345")
#: evaluation results; the first two count as satisfied
EVALUATIONS = ("satisfied", "basically_satisfied", "unsatisfied")
SATISFIED = ("satisfied", "basically_satisfied")


@dataclass(frozen=True)
class Step:
    """One kind of step: its names, the states it may start from and the state it leads to.

    ``target`` None: the state does not change (延期, 督办, 回复) or, for ``resume``, returns to
    the state the case was in before it was suspended.
    """

    action: str
    zh: str
    en: str
    sources: tuple[str, ...]
    target: str | None
    needs_reason: bool = False
    #: a step a leader or the shift leader approves (``gis.cases.roles``: ``approve_cases``)
    approval: bool = False

    def label(self, lang: str = "en") -> str:
        """``accept (受理)`` style name of the step."""
        return f"{self.action} ({self.zh})" if lang == "en" else f"{self.zh}（{self.action}）"


STEPS: dict[str, Step] = {
    s.action: s
    for s in (
        Step("report", "上报", "report", (), "reported"),
        Step("accept", "受理", "accept", ("reported",), "accepted"),
        Step("refuse", "不予受理", "refuse", ("reported",), "rejected", needs_reason=True),
        Step("void", "作废", "void", ("reported", "accepted"), "voided", needs_reason=True),
        Step("register", "立案", "register", ("accepted",), "registered"),
        Step("dispatch", "派遣", "dispatch", ("registered", "dispatched"), "dispatched"),
        Step("return", "回退", "return", ("dispatched",), "registered", needs_reason=True),
        Step("handle", "处置", "handle", ("dispatched",), "handled"),
        Step("verify", "核查通过", "verify (pass)", ("handled",), "verified"),
        Step("rework", "返工", "rework (verification failed)", ("handled",), "dispatched", True),
        Step("close", "结案", "close", ("verified",), "closed"),
        Step("evaluate", "回访评价", "callback and evaluation", ("closed",), "evaluated"),
        Step("request_extension", "申请延期", "request an extension", ("dispatched",), None, True),
        Step("extend", "延期", "extend", ("dispatched",), None, needs_reason=True, approval=True),
        Step(
            "suspend", "挂起", "suspend", SUSPENDABLE, "suspended", needs_reason=True, approval=True
        ),
        Step("resume", "恢复", "resume", ("suspended",), None),
        Step("supervise", "督办", "supervise", OPEN_STATES, None, needs_reason=True, approval=True),
        Step("reply", "督办回复", "reply to supervision", OPEN_STATES, None),
    )
}
#: the steps that need an explicit ``reason``
REASON_STEPS = tuple(a for a, s in STEPS.items() if s.needs_reason)


def state_label(state: str, lang: str = "en") -> str:
    """``dispatched (派遣)`` / ``派遣（dispatched）``."""
    zh, _ = STATES.get(state, (state, state))
    return f"{state} ({zh})" if lang == "en" else f"{zh}（{state}）"


__all__ = [
    "EVALUATIONS",
    "HOTLINE_SOURCES",
    "OPEN_STATES",
    "REASON_STEPS",
    "SATISFIED",
    "STATES",
    "STEPS",
    "SUSPENDABLE",
    "Step",
    "TARGET_KINDS",
    "state_label",
]
