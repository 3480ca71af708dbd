"""The grid commands of the CLI guess a file's fields as the Grids page does (issue 12 drift)."""

from __future__ import annotations

from gis import store
from gis.cli import main
from gis.grids import guess_grid_fields


def parent_named_parent(tiny_grids, tmp_path):
    """The tiny hierarchy (valid) in a GeoJSON file whose parent column is called ``parent``."""
    frame = tiny_grids.rename(columns={"parent_code": "parent"})
    path = tmp_path / "parent.geojson"
    frame.to_file(path)
    return path, frame


def test_validate_file_guesses_the_parent_column_like_the_page(tiny_grids, tmp_path, capsys):
    path, frame = parent_named_parent(tiny_grids, tmp_path)
    # the page's guess, which the CLI now shares
    assert guess_grid_fields(list(frame.columns.drop("geometry")))["parent_code"] == "parent"
    assert main(["grids", "validate", "--file", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Grid validation: 14 grids, 0 error(s)" in out and "[orphan]" not in out


def test_import_guesses_the_parent_column_and_an_explicit_field_wins(tiny_grids, tmp_path, capsys):
    path, _ = parent_named_parent(tiny_grids, tmp_path)
    db = str(tmp_path / "g.db")
    assert main(["init", "--db", db]) == 0  # only init/demo create a database
    assert main(["grids", "import", str(path), "--db", db]) == 0
    assert "0 error(s)" in capsys.readouterr().out
    stored = store.read_grids(store.open_store(db))
    parents = dict(zip(stored["code"], stored["parent_code"], strict=True))
    expected = dict(zip(tiny_grids["code"], tiny_grids["parent_code"], strict=True))
    assert parents == expected
    # a field given on the command line is used as given, not replaced by a guess
    assert main(["grids", "validate", "--file", str(path), "--parent-field", "name"]) == 1
    assert "[orphan]" in capsys.readouterr().out
