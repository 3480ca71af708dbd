"""Bounded decompression (issue 19, Medium): a .gz of tracks or incidents and a zip upload
cannot expand past the size or ratio limits; normal compressed files still read."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import zipfile
from types import SimpleNamespace

import pytest

from gis.core import settings
from gis.core.errors import InputError
from gis.io import decompress, read_source
from gis.patrol import read_tracks
from gis.ui.files import uploaded_file


@pytest.fixture
def small_limits(monkeypatch):
    monkeypatch.setattr(settings, "MAX_DECOMPRESSED_BYTES", 8 * 2**20)
    monkeypatch.setattr(settings, "RATIO_FLOOR_BYTES", 2**20)


def _bomb(n: int = 16 * 2**20) -> bytes:
    return b"lon,lat,time\n" + b"0" * n


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".xz"])
def test_round_trip_and_concatenated_members(suffix):
    pack = {".gz": gzip.compress, ".bz2": bz2.compress, ".xz": lzma.compress}[suffix]
    assert decompress(pack(b"abc") + pack(b"def"), "x" + suffix) == b"abcdef"
    with pytest.raises(InputError, match="x" + suffix):
        decompress(pack(b"abc" * 1000)[:-8], "x" + suffix)


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".xz"])
def test_a_bomb_is_refused_before_it_is_in_memory(small_limits, suffix):
    pack = {".gz": gzip.compress, ".bz2": bz2.compress, ".xz": lzma.compress}[suffix]
    data = pack(_bomb())
    assert len(data) < 200_000
    with pytest.raises(InputError, match="bomb|more than"):
        decompress(data, "tracks.csv" + suffix)


def test_ratio_limit_below_the_size_limit(monkeypatch):
    monkeypatch.setattr(settings, "RATIO_FLOOR_BYTES", 2**20)
    with pytest.raises(InputError, match="times its compressed size"):
        decompress(gzip.compress(_bomb(4 * 2**20)), "a.csv.gz")


def test_incident_and_track_readers_refuse_a_bomb(small_limits, tmp_path):
    path = tmp_path / "tracks.csv.gz"
    path.write_bytes(gzip.compress(_bomb()))
    with pytest.raises(InputError, match="tracks.csv.gz"):
        read_tracks(path)
    with pytest.raises(InputError, match="tracks.csv.gz"):
        read_source(path)


def test_a_normal_gz_still_reads(tmp_path):
    text = "编号,经度,纬度\nE1,112.9,35.8\nE2,112.91,35.81\n"
    path = tmp_path / "in.csv.gz"
    path.write_bytes(gzip.compress(text.encode("utf-8")))
    table, _ = read_source(path)
    assert len(table) == 2


def test_a_zip_bomb_upload_is_refused_and_leaves_nothing(small_limits, tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.csv", _bomb())
    upload = SimpleNamespace(name="bomb.zip", getvalue=buf.getvalue)
    with pytest.raises(InputError, match="bomb.zip"):
        uploaded_file(upload)
    unzipped = list(tmp_path.rglob("unzipped"))
    assert not unzipped or not any(p.is_file() for p in unzipped[0].iterdir())
