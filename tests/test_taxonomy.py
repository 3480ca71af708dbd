"""THE category filter rule: "05" is a major class everywhere."""

from __future__ import annotations

import pandas as pd

from gis.taxonomy import category_mask


def test_major_class_and_minor_class():
    codes = pd.Series(["05-05", "05-04", "01-07", None, "0505"])
    assert category_mask(codes, "05").tolist() == [True, True, False, False, False]
    assert category_mask(codes, "05-").tolist() == [True, True, False, False, False]
    assert category_mask(codes, ["05-05", "01"]).tolist() == [True, False, True, False, False]
    assert category_mask(codes, "05-05,01-07").tolist() == [True, False, True, False, False]
    assert category_mask(codes, None).all() and category_mask(codes, []).all()
