"""Generate a period report in a format and put it into the archive, all or nothing.

The report is computed and rendered to bytes first; only a complete file is written (to a
temporary name, then renamed) and only then is the archive row added, in one transaction. A run
that fails anywhere leaves the archive (and the output path) as they were and says why in one
line (``ReportFailed``).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy.engine import Engine

from gis import store
from gis.core.errors import GridLensError
from gis.reports.period_excel import period_excel_bytes
from gis.reports.period_html import render_period_html
from gis.reports.period_model import PeriodReport, build_period_report
from gis.reports.period_pdf import period_pdf_bytes
from gis.reports.periods import ReportPeriod
from gis.store import reports as archive_rows
from gis.store.reports import archived_bytes, list_archive

#: the output formats (file suffixes)
FORMATS = ("html", "xlsx", "pdf")
#: media types, for downloads
MEDIA_TYPES = {
    "html": "text/html",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


class ReportFailed(GridLensError):
    """A report could not be made; nothing was written and the archive is unchanged."""


def format_of(path: str | Path) -> str:
    """The format named by a file's suffix (``.html``, ``.xlsx``, ``.pdf``)."""
    suffix = Path(path).suffix.lower().lstrip(".")
    suffix = "html" if suffix == "htm" else suffix
    if suffix not in FORMATS:
        raise ReportFailed(f"{path}: the output must end in .html, .xlsx or .pdf")
    return suffix


def render_report(
    r: PeriodReport, fmt: str, lang: str = "zh", generated_by: str = "gridlens"
) -> bytes:
    """The report as the bytes of one file in ``fmt``."""
    if fmt == "html":
        return render_period_html(r, lang, generated_by).encode("utf-8")
    if fmt == "xlsx":
        return period_excel_bytes(r, lang, generated_by)
    if fmt == "pdf":
        return period_pdf_bytes(r, lang, generated_by)
    raise ReportFailed(f"unknown report format {fmt!r}; one of {', '.join(FORMATS)}")


def latest_report_day(engine: Engine) -> date | None:
    """The last day with an incident on record (the page's default day), or None."""
    _, last = store.incident_time_range(engine)
    return None if last is None else last.date()


def report_file_name(period: ReportPeriod, lang: str, fmt: str) -> str:
    """``monthly_2026-10_zh.pdf``, ``weekly_2026-09-28_en.html``, ``daily_2026-10-05_zh.xlsx``."""
    label = f"{period.start:%Y-%m}" if period.kind == "monthly" else f"{period.start:%Y-%m-%d}"
    return f"{period.kind}_{label}_{lang}.{fmt}"


@dataclass
class GeneratedReport:
    """One generated file: the report, its format, language, bytes, archive id (None when not
    archived) and the path written (None when not written)."""

    report: PeriodReport
    fmt: str
    lang: str
    content: bytes
    file_name: str
    archive_id: int | None = None
    path: Path | None = None


def _write_atomically(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def generate_report(
    engine: Engine,
    kind: str,
    day: date | datetime | str | None = None,
    *,
    fmt: str = "html",
    lang: str = "zh",
    generated_by: str = "gridlens",
    out: str | Path | None = None,
    archive: bool = True,
    keep_bytes: bool = True,
    today: date | None = None,
    report: PeriodReport | None = None,
) -> GeneratedReport:
    """Compute, render, write (``out``) and archive one period report.

    Parameters
    ----------
    kind, day, today
        The period (``gis.reports.periods.report_period``).
    fmt, lang
        ``html``/``xlsx``/``pdf`` and ``zh``/``en``.
    generated_by
        Who or what made it: a user name, ``cron``, ``systemd``.
    out
        A file to write (its suffix should match ``fmt``).
    archive
        Add it to ``report_archive`` (with its bytes, or only ``out`` when not ``keep_bytes``).
    report
        An already computed report of the same period (the page's preview), to render again.

    Raises
    ------
    ReportFailed
        Anything went wrong; the message says what, and nothing was written or archived.
    """
    if lang not in ("zh", "en"):
        raise ReportFailed(f"report language must be zh or en, got {lang!r}")
    if fmt not in FORMATS:
        raise ReportFailed(f"unknown report format {fmt!r}; one of {', '.join(FORMATS)}")
    try:
        r = report if report is not None else build_period_report(engine, kind, day, today=today)
        content = render_report(r, fmt, lang, generated_by)
    except ReportFailed:
        raise
    except Exception as exc:  # every cause, said in one line: the archive is untouched
        raise ReportFailed(
            f"the {kind} report was not generated ({type(exc).__name__}: {exc}); "
            "the archive is unchanged"
        ) from exc
    name = report_file_name(r.period, lang, fmt)
    result = GeneratedReport(r, fmt, lang, content, name)
    if out is not None:
        path = Path(out)
        try:
            _write_atomically(path, content)
        except OSError as exc:
            raise ReportFailed(f"{path}: cannot write ({exc}); the archive is unchanged") from exc
        result.path = path
    if archive:
        try:
            result.archive_id = archive_rows.archive_report(
                engine,
                kind=r.period.kind,
                period_start=r.period.start,
                period_end=r.period.end,
                lang=lang,
                fmt=fmt,
                generated_by=generated_by,
                file_name=name,
                content=content,
                keep_bytes=keep_bytes,
                path=str(result.path.resolve()) if result.path else None,
                generated_at=r.generated_at,
            )
        except Exception as exc:
            raise ReportFailed(
                f"the report was made but not archived ({type(exc).__name__}: {exc}); "
                "the archive is unchanged"
            ) from exc
    return result


__all__ = [
    "FORMATS",
    "GeneratedReport",
    "MEDIA_TYPES",
    "ReportFailed",
    "archived_bytes",
    "format_of",
    "generate_report",
    "latest_report_day",
    "list_archive",
    "render_report",
    "report_file_name",
]
