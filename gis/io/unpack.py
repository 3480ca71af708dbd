"""Bounded decompression: compressed input never expands past a size or a ratio.

A 306 KB ``.csv.gz`` of tracks once took 2.97 GB of memory and a 408 KB zip 419 MB of disk.
Every ``.gz``/``.bz2``/``.xz`` file and every zip member is expanded here, in chunks, and
refused with :class:`~gis.core.errors.InputError` (naming the file) as soon as it passes
``settings.MAX_DECOMPRESSED_BYTES`` or, once past ``settings.RATIO_FLOOR_BYTES``,
``settings.MAX_DECOMPRESSION_RATIO`` times its compressed size.
"""

from __future__ import annotations

import bz2
import lzma
import zipfile
import zlib
from pathlib import Path

from gis.core import settings
from gis.core.errors import InputError

__all__ = ["COMPRESSED_SUFFIXES", "decompress", "extract_zip"]

#: suffixes of single-file compression that :func:`decompress` expands
COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz")
_CHUNK = 1 << 20


def _limit(name: str, produced: int, compressed: int) -> None:
    cap = settings.MAX_DECOMPRESSED_BYTES
    if produced > cap:
        raise InputError(
            f"{name}: expands to more than {cap / 2**20:,.0f} MB; refused "
            "(GRIDLENS_MAX_DECOMPRESSED_MB raises the limit)"
        )
    ratio = settings.MAX_DECOMPRESSION_RATIO
    if produced > settings.RATIO_FLOOR_BYTES and produced > ratio * max(compressed, 1):
        raise InputError(
            f"{name}: expands more than {ratio} times its compressed size "
            f"({compressed:,} bytes to over {produced:,}); refused as a decompression bomb"
        )


def _decompressor(suffix: str):
    if suffix == ".gz":
        return zlib.decompressobj(wbits=47)  # gzip or zlib header
    if suffix == ".bz2":
        return bz2.BZ2Decompressor()
    if suffix == ".xz":
        return lzma.LZMADecompressor()
    raise InputError(f"unsupported compression {suffix!r}")


def decompress(data: bytes, name: str) -> bytes:
    """Expand ``data`` (``name``'s suffix says gzip, bzip2 or xz), within the limits.

    Raises
    ------
    InputError
        The data is not valid for its compression, is cut short, or expands past the limits.
    """
    suffix = Path(name).suffix.lower()
    out = bytearray()
    rest = data
    try:
        while rest:  # one pass per member (gzip and xz files may hold several)
            engine = _decompressor(suffix)
            if suffix == ".gz":
                chunk = engine.decompress(rest, _CHUNK)
                while True:
                    out += chunk
                    _limit(name, len(out), len(data))
                    if engine.eof or (not chunk and not engine.unconsumed_tail):
                        break
                    chunk = engine.decompress(engine.unconsumed_tail, _CHUNK)
            else:
                chunk = engine.decompress(rest, max_length=_CHUNK)
                while True:
                    out += chunk
                    _limit(name, len(out), len(data))
                    if engine.eof or engine.needs_input:
                        break
                    chunk = engine.decompress(b"", max_length=_CHUNK)
            if not engine.eof:
                raise InputError(f"{name}: the compressed file is cut short")
            rest = engine.unused_data
    except (zlib.error, OSError, EOFError, lzma.LZMAError) as exc:
        raise InputError(f"{name}: not a readable {suffix} file ({exc})") from None
    return bytes(out)


def _member_target(out: Path, name: str) -> Path:
    parts = [p for p in Path(name.replace("\\", "/")).parts if p not in ("..", ".", "/", "")]
    parts = [p for p in parts if not p.endswith(":")]  # drive letters
    return out / "__".join(parts)


def extract_zip(path: Path, out: Path, names: list[str]) -> None:
    """Extract the members ``names`` of zip ``path`` flat into ``out``, within the limits on the
    zip's total expansion. A member's folders are kept in its file name (``a/x.csv`` ->
    ``a__x.csv``) so members with one base name do not overwrite each other; ``..``, root and
    drive parts are dropped, so no path escapes ``out``."""
    compressed = path.stat().st_size
    produced = 0
    with zipfile.ZipFile(path) as zf:
        declared = sum(zf.getinfo(n).file_size for n in names)
        _limit(path.name, declared, compressed)  # what the zip says, before any byte
        for n in names:
            target = _member_target(out, n)
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(n) as src, open(target, "wb") as dst:
                while chunk := src.read(_CHUNK):  # what it really holds
                    produced += len(chunk)
                    _limit(path.name, produced, compressed)
                    dst.write(chunk)
