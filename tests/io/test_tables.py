"""THE table writer."""

from __future__ import annotations

import pandas as pd

from gis.io.tables import write_table


def test_parquet_with_timestamps_in_attrs(tmp_path):
    # a coverage table carries its period as Timestamps in attrs: the write must not fail on them
    frame = pd.DataFrame({"unit": ["a", "b"], "minutes": [1.5, 2.0]})
    frame.attrs["period"] = (pd.Timestamp("2026-01-01"), pd.Timestamp("2026-02-01"))
    out = write_table(frame, tmp_path / "coverage.parquet")
    back = pd.read_parquet(out)
    pd.testing.assert_frame_equal(back, frame)
    assert frame.attrs["period"][0] == pd.Timestamp("2026-01-01")  # the caller's frame untouched
