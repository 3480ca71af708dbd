"""Real public data from ../shared/data/real: a real two-level hierarchy and real 311 feeds."""

from __future__ import annotations

import pandas as pd
import pytest

from gis import store
from gis.grids import import_grids
from gis.incidents import import_incidents


@pytest.fixture
def db(tmp_path):
    engine = store.open_store(str(tmp_path / "real.db"))
    store.init_db(engine)
    yield engine
    engine.dispose()


def test_boston_wards_and_precincts_import_as_a_hierarchy(db, real_data):
    boston = real_data / "boston"
    wards = import_grids(db, boston / "boston_wards.geojson", mapping={"code": "WARD"}, level="l1")
    precincts = import_grids(
        db,
        boston / "boston_precincts.geojson",
        mapping={"code": "WARD_PRECINCT", "parent_code": "WARD"},
        level="l2",
        allow_errors=True,  # precinct 0115 (harbour islands) lies outside ward 1's polygon
    )
    assert (wards.total, wards.imported, len(wards.rejected)) == (22, 22, 0)
    assert (precincts.total, precincts.imported, len(precincts.rejected)) == (255, 255, 0)
    grids = store.read_grids(db)
    l1 = set(grids.loc[grids["level"] == "l1", "code"])
    l2 = grids[grids["level"] == "l2"]
    assert set(l2["parent_code"]) <= l1, "every precinct's ward is a ward"
    # the precinct code WWPP nests in ward WW
    assert (l2["code"].str[:2].astype(int).astype(str) == l2["parent_code"]).all()
    assert grids.geometry.is_valid.all()


def test_boston_abandoned_vehicles_every_row_accounted_for(db, real_data, tmp_path):
    path = real_data / "boston" / "boston311_abandoned_vehicle_2008_2020.csv.gz"
    plain = tmp_path / "abandoned.csv"
    plain.write_bytes(__import__("gzip").decompress(path.read_bytes()))
    columns = {
        "external_id": "service_request_id",
        "occurred_at": "requested_datetime",
        "status": "status",
        "address": "address",
        "description": "description",
    }
    result = import_incidents(
        db,
        plain,
        columns=columns,
        lon="long",
        lat="lat",
        tz="America/New_York",
        rejected_out=tmp_path / "rej.csv",
    )
    assert result.total == 29_556
    assert result.imported + result.rejected_count == result.total
    assert store.count_rows(db, "incidents") == result.imported
    assert result.imported > 29_000
    again = import_incidents(
        db, plain, columns=columns, lon="long", lat="lat", tz="America/New_York"
    )
    assert again.imported == 0 and again.rejected_count == again.total
    raw = pd.read_csv(plain, dtype=str)
    first = raw.iloc[0]
    stored = store.read_frame(
        db, "incidents", where="external_id = :e", params={"e": first["service_request_id"]}
    )
    # '2008-...-04:00' offsets become New York wall-clock times
    expected = pd.Timestamp(first["requested_datetime"]).tz_convert("America/New_York")
    assert stored["occurred_at"].iloc[0] == expected.tz_localize(None)


def test_nyc_311_rows_without_coordinates_are_reported(db, real_data, tmp_path):
    result = import_incidents(
        db,
        real_data / "nyc" / "nyc311_2011_sample2000.csv",
        columns={
            "external_id": "Unique Key",
            "occurred_at": "Created Date",
            "closed_at": "Closed Date",
            "category_code": "Complaint Type",
        },
        tz="America/New_York",
        unknown="unclassified",  # categories the alias table lacks are not the point here
        rejected_out=tmp_path / "rej.csv",
    )
    assert result.total == 2000
    # 1,402 of 2,000 have coordinates; one of them closes on the export's sentinel 1900-01-01,
    # outside the time parser's range (issue 19), and is rejected for it
    assert result.imported == 1401
    reasons = pd.read_csv(tmp_path / "rej.csv")["reason"].value_counts()
    assert reasons.to_dict() == {
        "no coordinates": 598,
        "closed_at: time out of range (before 1990 or after 2200)": 1,
    }
