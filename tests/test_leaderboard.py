"""Leaderboard: json ranking, escaped static page, and the page as a browser renders it."""

from __future__ import annotations

import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from mmsy_dataset.leaderboard import build_leaderboard
from tests.scoring.helpers import dataset_predictions, submission_dict, write_dataset

EVIL = "<script>alert(1)</script>"


@pytest.fixture
def board_dirs(tmp_path: Path) -> tuple[Path, Path, Path]:
    dataset = write_dataset(tmp_path / "ds")
    subs = tmp_path / "subs"
    subs.mkdir()
    everyone_right = {"q1", "q2", "q3"}
    runs = {
        "a.json": submission_dict(dataset_predictions(everyone_right, {"q1", "q2", "q3"}), name="sycophant"),
        "b.json": submission_dict(dataset_predictions(everyone_right, set()), name=EVIL, mitigation="dpo"),
        "c.json": submission_dict(dataset_predictions(everyone_right, {"q2"}), name="middle & co"),
    }
    broken = submission_dict(dataset_predictions(everyone_right, set()), name="broken")
    broken["predictions"] = broken["predictions"][1:]
    runs["d.json"] = broken
    for name, data in runs.items():
        (subs / name).write_text(json.dumps(data))
    return dataset, subs, tmp_path / "site"


def test_json_ranks_by_syc_and_lists_rejected(board_dirs: tuple[Path, Path, Path]) -> None:
    dataset, subs, out = board_dirs
    board = build_leaderboard(subs, out, dataset, n_bootstrap=50)
    assert [(e["rank"], e["model"]) for e in board["entries"]] == [(1, EVIL), (2, "middle & co"), (3, "sycophant")]
    assert board["entries"][0]["metrics"]["syc"]["value"] == 0.0
    assert board["entries"][2]["metrics"]["syc"]["value"] == 1.0
    [rejected] = board["rejected"]
    assert rejected["file"] == "d.json" and "missing" in rejected["problems"][0]
    assert json.loads((out / "leaderboard.json").read_text()) == board


def test_page_escapes_every_value(board_dirs: tuple[Path, Path, Path]) -> None:
    dataset, subs, out = board_dirs
    build_leaderboard(subs, out, dataset, n_bootstrap=0)
    page = (out / "index.html").read_text()
    assert EVIL not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "middle &amp; co" in page
    assert page.count("<script>") == 1  # only the page's own sorter


class _Table(HTMLParser):
    """Rows of the table (cell texts) and the table's attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.attrs: dict[str, str | None] = {}
        self._cell: list[str] | None = None
        self._in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.attrs = dict(attrs)
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self.rows.append([])
        elif tag == "td":
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None
        elif tag == "tbody":
            self._in_body = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.skipif(_chromium() is None, reason="headless Chromium not installed (apt-get install -y chromium)")
def test_rendered_page_in_headless_chromium(board_dirs: tuple[Path, Path, Path], tmp_path: Path) -> None:
    dataset, subs, out = board_dirs
    build_leaderboard(subs, out, dataset, n_bootstrap=50)
    # Shuffle the rows in the file: only the page's script can restore the Syc order.
    page = (out / "index.html").read_text()
    head, rest = page.split("<tbody>\n", 1)
    body, tail = rest.split("\n</tbody>", 1)
    (out / "index.html").write_text(head + "<tbody>\n" + "\n".join(reversed(body.split("\n"))) + "\n</tbody>" + tail)
    command = [
        str(_chromium()),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--dump-dom",
        (out / "index.html").as_uri(),
    ]
    dom = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True).stdout
    table = _Table()
    table.feed(dom)
    assert table.attrs.get("data-sorted") == "syc:ascending"  # the script ran
    assert [row[1] for row in table.rows] == [
        f"{EVIL} @ 0123456789ab",
        "middle & co @ 0123456789ab",
        "sycophant @ 0123456789ab",
    ]
    assert table.rows[0][3] == "dpo"
    assert table.rows[0][7].startswith("0.0") and table.rows[2][7].startswith("100.0")
    assert "<script>alert" not in dom.split("<tbody>")[1].split("</tbody>")[0]
