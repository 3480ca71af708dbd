"""The demo's staff: grid leaders, workers and assistants per grid, and enforcement officers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gis.demo import names
from gis.demo.district import N_L1
from gis.demo.grids import MetricGrids


def _people(rng: np.random.Generator, n: int) -> tuple[list[str], list[str]]:
    sur = rng.choice(names.SURNAMES, n)
    two = rng.random(n) < 0.7
    g1 = rng.choice(names.GIVEN_CHARS, n)
    g2 = rng.choice(names.GIVEN_CHARS, n)
    person = [s + a + (b if t else "") for s, a, b, t in zip(sur, g1, g2, two, strict=True)]
    prefix = rng.choice(["13", "15", "18"], n)
    tail = rng.choice(10**9, n, replace=False)
    phone = [f"{p}{t:09d}" for p, t in zip(prefix, tail, strict=True)]
    return person, phone


def build_staff(
    rng: np.random.Generator, grids: MetricGrids, dedicated_codes: list[str]
) -> pd.DataFrame:
    """Staff of the district: ``staff_code, name, role, department, grid_code, phone``.

    One leader per level-1 grid, one worker per level-2 and dedicated grid, one assistant per
    micro-grid (department ``shequ``), then 30 enforcement officers spread over the level-1 grids.
    Rows in that order, so the level-2 workers are rows ``N_L1 : N_L1 + N_L2``.
    """
    roles = (
        [("grid_leader", "shequ", c) for c in grids.l1_code]
        + [("grid_worker", "shequ", c) for c in grids.l2_code]
        + [("grid_assistant", "shequ", c) for c in grids.micro_code]
        + [("grid_worker", "shequ", c) for c in dedicated_codes]
    )
    officer_depts = ["chengguan"] * 12 + ["scjg"] * 6 + ["pcs"] * 6 + ["jiaojing"] * 6
    officer_l1 = rng.permutation(np.resize(np.arange(N_L1), len(officer_depts)))
    roles += [
        ("enforcement_officer", d, grids.l1_code[int(i)])
        for d, i in zip(officer_depts, officer_l1, strict=True)
    ]
    person, phone = _people(rng, len(roles))
    staff = pd.DataFrame(
        {
            "staff_code": pd.Series([f"S{i:04d}" for i in range(1, len(roles) + 1)], dtype=object),
            "name": pd.Series(person, dtype=object),
            "role": pd.Series([r[0] for r in roles], dtype=object),
            "department": pd.Series([r[1] for r in roles], dtype=object),
            "grid_code": pd.Series([r[2] for r in roles], dtype=object),
            "phone": pd.Series(phone, dtype=object),
        }
    )
    return staff
