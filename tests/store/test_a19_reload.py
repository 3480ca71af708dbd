"""Issue 19, Medium: ``gridlens demo --force`` on a demo database failed on a foreign key:
``init_db`` replaced the departments that staff refer to. A reload keeps them (updated)."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from gis import store


def test_init_db_again_with_staff_referring_to_departments(engine):
    deps, classes = store.init_db(engine)
    code = store.read_frame(engine, "departments")["code"].iloc[0]
    staff = pd.DataFrame(
        {
            "staff_code": ["E1"],
            "name": ["甲"],
            "role": ["enforcement_officer"],
            "department": [code],
            "active": [True],
        }
    )
    store.save_frame(engine, "staff", staff)
    with engine.begin() as conn:  # a stale name and a department the file no longer lists
        conn.execute(sa.text("UPDATE departments SET name_en = 'old' WHERE code = :c"), {"c": code})
        conn.execute(
            sa.text("INSERT INTO departments (code, name_zh, name_en) VALUES ('zz', '旧', 'gone')")
        )
    assert store.init_db(engine) == (deps, classes)  # the demo's reload path: no FK error
    stored = store.read_frame(engine, "departments").set_index("code")
    assert len(stored) == deps and "zz" not in stored.index
    assert stored.loc[code, "name_en"] != "old"
    assert store.read_frame(engine, "staff")["department"].tolist() == [code]
