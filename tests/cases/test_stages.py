"""Per-stage clocks (受理, 派遣, 处置, 核查) worked out by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from gis.cases import stage_clocks


def _steps(case_id: int, rows: list[tuple]) -> list[dict]:
    out = []
    for seq, (action, at, *level) in enumerate(rows, start=1):
        out.append({"case_id": case_id, "seq": seq, "action": action, "at": pd.Timestamp(at),
                    "level": level[0] if level else None})  # fmt: skip
    return out


@pytest.fixture
def clocks():
    rows = (
        _steps(1, [("report", "2026-03-02 09:00"), ("accept", "2026-03-02 09:30"),
                   ("register", "2026-03-02 09:35"), ("dispatch", "2026-03-02 10:00", 1),
                   ("dispatch", "2026-03-02 10:10", 2), ("handle", "2026-03-02 15:00"),
                   ("verify", "2026-03-03 09:00")])
        + _steps(2, [("report", "2026-03-02 09:00"), ("accept", "2026-03-03 10:00")])
        + _steps(3, [("report", "2026-03-02 08:00"), ("accept", "2026-03-02 08:10"),
                     ("register", "2026-03-02 08:20"), ("dispatch", "2026-03-02 09:00", 1),
                     ("suspend", "2026-03-02 10:00"), ("resume", "2026-03-04 10:00"),
                     ("handle", "2026-03-04 10:30")])
    )  # fmt: skip
    cases = pd.DataFrame({"id": [1, 2, 3], "category_code": "05-04", "urgency": "general"})
    out = stage_clocks(pd.DataFrame(rows), cases, at="2026-03-04 12:00")
    return out.set_index(["case_id", "stage"])


def test_stage_clocks_by_hand(clocks):
    # accept: 1 working hour allowed
    assert clocks.loc[(1, "accept"), "elapsed_hours"] == 0.5
    assert clocks.loc[(1, "accept"), "on_time"]
    assert clocks.loc[(2, "accept"), "elapsed_hours"] == 3 + 4 + 2  # Mon 9-12, 14-18, Tue 8-10
    assert not clocks.loc[(2, "accept"), "on_time"]
    # dispatch: 立案 09:35 -> first 派遣 10:00
    assert clocks.loc[(1, "dispatch"), "elapsed_hours"] == pytest.approx(25 / 60)
    # handle: the case limit (05-04: 2 working hours) from the level-1 dispatch: 10-12, 14-15
    assert (
        clocks.loc[(1, "handle"), "elapsed_hours"] == 3 and not clocks.loc[(1, "handle"), "on_time"]
    )
    # a suspension is left out: 09-10 and Wed 10:00-10:30
    assert (
        clocks.loc[(3, "handle"), "elapsed_hours"] == 1.5 and clocks.loc[(3, "handle"), "on_time"]
    )
    # verify: one working day allowed; 15:00-18:00 and Tue 08-09
    assert clocks.loc[(1, "verify"), "elapsed_hours"] == 4 and clocks.loc[(1, "verify"), "on_time"]
    assert clocks.loc[(1, "verify"), "limit_type"] == "work_day"


def test_unfinished_stages_run_to_the_given_time(clocks):
    # case 2 was never registered: only its accept clock exists
    assert (2, "dispatch") not in clocks.index
    assert pd.isna(clocks.loc[(3, "verify"), "ended"])
    # verify of case 3 runs from Wed 10:30 to 12:00
    assert clocks.loc[(3, "verify"), "elapsed_hours"] == 1.5
