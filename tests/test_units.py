"""THE unit grammar (``--by``)."""

from __future__ import annotations

import pytest

from gis.core.errors import InputError
from gis.units import UnitSpec


@pytest.mark.parametrize(
    ("text", "kind", "value", "canonical"),
    [
        ("h3:9", "h3", 9, "h3:9"),
        ("H3 : 11", "h3", 11, "h3:11"),
        ("h3", "h3", 9, "h3:9"),
        ("fishnet:200", "fishnet", 200.0, "fishnet:200"),
        ("fishnet:62.5", "fishnet", 62.5, "fishnet:62.5"),
        ("grid:micro", "grid", "micro", "grid:micro"),
        ("grid", "grid", "micro", "grid:micro"),
        ("micro", "grid", "micro", "grid:micro"),
        ("grid:l1", "grid", "l1", "grid:l1"),
        ("streets", "streets", None, "streets"),
    ],
)
def test_parse(text, kind, value, canonical):
    spec = UnitSpec.parse(text)
    assert (spec.kind, spec.value, str(spec)) == (kind, value, canonical)
    assert UnitSpec.parse(str(spec)) == spec


@pytest.mark.parametrize("text", ["h3:16", "h3:x", "fishnet:-5", "grid:l9", "hex:9", "streets:2"])
def test_bad_text_names_the_grammar(text):
    with pytest.raises(InputError, match="h3:RES"):
        UnitSpec.parse(text)


def test_allowed_kinds():
    with pytest.raises(InputError, match="not available here"):
        UnitSpec.parse("streets", allowed=("h3", "grid"))
