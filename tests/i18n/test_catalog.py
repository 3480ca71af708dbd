"""The catalogue (gis.i18n): split by area, one text per key, both languages everywhere."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gis import i18n

ROOT = Path(__file__).resolve().parents[2]
AREAS = sorted((ROOT / "gis" / "i18n").glob("catalog_*.py"))


def test_every_key_has_both_languages():
    missing = [k for k, texts in i18n.CATALOGUE.items() if set(texts) != set(i18n.LANGS)]
    assert not missing


def test_the_areas_make_the_catalogue_without_overlap():
    total = 0
    for path in AREAS:
        module = __import__(f"gis.i18n.{path.stem}", fromlist=["CATALOG"])
        total += len(module.CATALOG)
        assert all(i18n.CATALOGUE[k] is v for k, v in module.CATALOG.items()), path.name
    assert total == len(i18n.CATALOGUE) > 600
    with pytest.raises(KeyError, match="defined in two modules"):
        i18n.merge_catalogs({"a.b": {"zh": "x", "en": "x"}}, {"a.b": {"zh": "y", "en": "y"}})


def test_modules_stay_small():
    for path in [*AREAS, ROOT / "gis" / "i18n" / "__init__.py"]:
        assert len(path.read_text(encoding="utf-8").splitlines()) < 800, path.name


def test_lookup_and_reasons():
    assert i18n.t("nav.home", "en") == "Home"
    assert i18n.t("nav.home", "fr") == i18n.t("nav.home", "zh")  # unknown language: default
    assert i18n.t("hotspots.error", "en", msg="x") == "Cannot compute: x"
    with pytest.raises(KeyError):
        i18n.t("no.such.key")
    assert i18n.import_reason("malformed row: 3 fields, expected 5", "zh") == (
        "格式错误的行：3 个字段，应为 5 个"
    )
    assert i18n.import_reason("something new", "zh") == "something new"


def test_i18n_is_the_bottom_layer():
    """Importing the catalogue loads no other gis module."""
    code = (
        "import sys, gis.i18n; "
        "print(sorted(m for m in sys.modules if m.startswith('gis.') "
        "and not m.startswith('gis.i18n')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert out.stdout.strip() == "[]"
