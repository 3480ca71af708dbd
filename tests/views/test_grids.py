"""The grid page's model (gis.views.grids) on the tiny hierarchy: two communities, each with two
level-2 grids (south, north), each with two micro-grids (west, east)."""

from __future__ import annotations

import pytest

from gis.views import grids as view

C1, C2 = "140581001001000", "140581001002000"
S1, N1 = "140581001001100", "140581001001200"  # south and north level-2 grids of C1
SW, SE = "140581001001101", "140581001001102"  # west and east micro-grids of S1


@pytest.fixture
def tiny(tiny_grids):
    return tiny_grids.assign(version=1)


def test_hierarchy_table_is_in_tree_order_and_search_keeps_ancestors(tiny):
    table = view.hierarchy_table(tiny)
    assert table["code"].tolist()[:5] == [C1, S1, SW, SE, N1]
    assert table.loc[2, "name"] == "\u3000\u3000微网格000" and table.loc[2, "parent_name"]
    assert table["area_km2"].gt(0).all() and len(table) == len(tiny)
    found = view.hierarchy_table(tiny, "微网格001")
    assert found["code"].tolist() == [C1, S1, SE]


def test_operations_fit_the_level(tiny):
    assert view.operations_for(tiny, C1) == ["reshape", "split", "merge", "add_dedicated"]
    assert view.operations_for(tiny, SW) == ["reshape", "split", "merge", "move"]


def test_neighbours_and_community(tiny):
    assert view.community_of(tiny, SE) == C1 and view.community_of(tiny, C2) == C2
    assert view.adjacent_siblings(tiny, SW) == [SE]
    assert view.adjacent_parents(tiny, SW) == [N1]
    frame = view.neighbour_frame(view.neighbourhood(tiny, SW), SW)
    roles = dict(zip(frame["code"], frame["role"], strict=True))
    assert roles[SW] == "selected" and roles[S1] == "parent" and roles[SE] == "sibling"
