"""The ``report_archive`` table on SpatiaLite and PostGIS: rows in, listed newest first, bytes
back unchanged; a refused row adds nothing."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from gis.core.errors import InputError
from gis.store import reports as archive_rows


def test_archive_round_trip(engine):
    content = "北城街道月通报".encode() + bytes(range(256))
    first = archive_rows.archive_report(
        engine, kind="monthly", period_start=pd.Timestamp("2026-10-01"),
        period_end=pd.Timestamp("2026-11-01"), lang="zh", fmt="pdf", generated_by="cron",
        file_name="monthly_2026-10_zh.pdf", content=content,
        generated_at=pd.Timestamp("2026-11-01 07:30"),
    )  # fmt: skip
    second = archive_rows.archive_report(
        engine, kind="daily", period_start=pd.Timestamp("2026-10-31"),
        period_end=pd.Timestamp("2026-11-01"), lang="en", fmt="html", generated_by="leader",
        file_name="daily_2026-10-31_en.html", content=b"<html></html>", keep_bytes=False,
        path="/var/lib/gridlens/reports/daily_2026-10-31_en.html",
        generated_at=pd.Timestamp("2026-11-01 08:00"),
    )  # fmt: skip
    assert second > first
    listing = archive_rows.list_archive(engine)
    assert listing["id"].tolist() == [second, first]
    row = listing.iloc[1]
    assert (row["kind"], row["format"], row["lang"], row["generated_by"]) == (
        "monthly", "pdf", "zh", "cron",
    )  # fmt: skip
    assert row["period_end"] == pd.Timestamp("2026-11-01")
    assert row["size_bytes"] == len(content)
    assert row["sha256"] == hashlib.sha256(content).hexdigest()
    assert archive_rows.archived_bytes(engine, first) == content
    assert archive_rows.archived_bytes(engine, second) is None
    assert archive_rows.list_archive(engine, kind="daily")["id"].tolist() == [second]
    with pytest.raises(InputError):
        archive_rows.archive_report(
            engine, kind="yearly", period_start=pd.Timestamp("2026-01-01"),
            period_end=pd.Timestamp("2027-01-01"), lang="zh", fmt="pdf", generated_by="x",
            file_name="x.pdf", content=b"x",
        )  # fmt: skip
    assert archive_rows.count_archive(engine) == 2
