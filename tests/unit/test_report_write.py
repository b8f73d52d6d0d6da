"""write_report (org_bootstrap.review.report.html): the page reaches its file whole or not at all, with the
permissions of any new file, and writes at once to one file do not disturb each other."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from org_bootstrap.review.report.html import ReportData, render_html, write_report
from tests.report_samples import sample_report


def test_write_report_writes_the_page_and_nothing_on_failure(tmp_path: Path) -> None:
    data = sample_report()
    written = write_report(tmp_path / "report.html", data)
    assert written == tmp_path / "report.html"
    assert written.read_text(encoding="utf-8") == render_html(data)
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
    umask = os.umask(0o022)
    os.umask(umask)
    assert written.stat().st_mode & 0o777 == 0o666 & ~umask  # as any new file, not a temporary's 0600
    with pytest.raises(FileNotFoundError):
        write_report(tmp_path / "missing" / "report.html", data)
    assert not (tmp_path / "missing").exists()


def test_a_failed_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    """The rename fails (the target is a directory) after the page went to the temporary file."""
    (tmp_path / "report.html").mkdir()
    with pytest.raises(IsADirectoryError):
        write_report(tmp_path / "report.html", sample_report())
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
    assert not list((tmp_path / "report.html").iterdir())


def test_a_write_that_starts_during_another_does_not_disturb_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second write runs to its end just before the first renames its temporary file."""
    target = tmp_path / "report.html"
    first, second = sample_report(), replace(sample_report(), title="second")
    rename = os.replace
    renames: list[str] = []

    def replace_after_a_second_write(source: str | os.PathLike[str], destination: Path) -> None:
        renames.append(str(source))
        if len(renames) == 1:
            write_report(target, second)
            assert target.read_text(encoding="utf-8") == render_html(second)
        rename(source, destination)

    monkeypatch.setattr(os, "replace", replace_after_a_second_write)
    assert write_report(target, first) == target
    assert len(set(renames)) == 2
    assert target.read_text(encoding="utf-8") == render_html(first)
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_writes_at_once_from_threads_each_leave_a_whole_page(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    pages = [replace(sample_report(), title=f"writer {n}") for n in range(4)]

    def write(data: ReportData) -> None:
        for _ in range(25):
            write_report(target, data)

    with ThreadPoolExecutor(max_workers=len(pages)) as pool:
        list(pool.map(write, pages))  # re-raises the first error of any writer
    assert target.read_text(encoding="utf-8") in {render_html(data) for data in pages}
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
