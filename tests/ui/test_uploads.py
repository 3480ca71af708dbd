"""Issue 19 (low): zip members with the same base name stay apart, old uploads are deleted."""

from __future__ import annotations

import io
import os
import time
import zipfile
from pathlib import Path

import pandas as pd

from gis.ui import files


class Upload:
    def __init__(self, name: str, data: bytes) -> None:
        self.name, self._data = name, data

    def getvalue(self) -> bytes:
        return self._data


def test_zip_members_with_one_base_name_do_not_overwrite(tmp_path, monkeypatch):
    monkeypatch.setattr(files.tempfile, "gettempdir", lambda: str(tmp_path))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("may/data.csv", "a,b\n1,2\n")
        zf.writestr("june/data.csv", "a,b\n3,4\n5,6\n")
        zf.writestr("../../escape.csv", "x\n")
    path = files.uploaded_file(Upload("two.zip", buf.getvalue()))
    out = path.parent
    texts = sorted(p.read_text() for p in out.iterdir() if p.name.endswith("data.csv"))
    assert texts == ["a,b\n1,2\n", "a,b\n3,4\n5,6\n"]
    assert (out / "escape.csv").exists() and not (tmp_path / "escape.csv").exists()
    assert out.parent.parent == tmp_path / "gridlens_uploads"


def test_old_uploads_are_deleted(tmp_path, monkeypatch):
    monkeypatch.setattr(files.tempfile, "gettempdir", lambda: str(tmp_path))
    old = files.uploaded_file(Upload("old.csv", b"a\n1\n")).parent
    past = time.time() - files.UPLOAD_MAX_AGE_S - 60
    os.utime(old, (past, past))
    new = files.uploaded_file(Upload("new.csv", b"a\n2\n"))
    assert not old.exists() and new.exists()
    assert pd.read_csv(new)["a"].tolist() == [2]
    assert Path(new).parent.parent == tmp_path / "gridlens_uploads"
