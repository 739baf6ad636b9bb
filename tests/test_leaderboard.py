"""Leaderboard: json ranking, escaped static page, and the page as a browser renders it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mmsy_dataset.leaderboard import build_leaderboard, render_html
from tests.browser import Browser, chromium_path
from tests.hub.fake_hub import TOKEN, FakeHub, mmsy, one_error_line, upload_requests
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


def _browser_board(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """Four entries: two mitigations besides none, two scoring modes, two dataset versions; no
    dataset check (so the versions may differ). The rows of the file are shuffled: only the
    page's script can restore the Syc order."""
    subs = tmp_path / "subs"
    subs.mkdir()
    everyone = {"q1", "q2", "q3"}
    runs = {
        "a.json": submission_dict(dataset_predictions(everyone, everyone), name="sycophant"),
        "b.json": submission_dict(dataset_predictions(everyone, set()), name=EVIL, mitigation="dpo"),
        "c.json": submission_dict(dataset_predictions(everyone, {"q2"}), name="middle & co"),
        "d.json": submission_dict(
            dataset_predictions({"q1", "q2"}, {"q1"}, mode="option"),
            name="option-model",
            mitigation="prompt",
            mode="option",
            dataset={"version": "1.1.0", "checksum": "cd" * 32},
        ),
    }
    for name, data in runs.items():
        (subs / name).write_text(json.dumps(data))
    out = tmp_path / "site"
    board = build_leaderboard(subs, out, None, n_bootstrap=50)
    page = (out / "index.html").read_text()
    head, rest = page.split("<tbody>\n", 1)
    body, tail = rest.split("\n</tbody>", 1)
    (out / "index.html").write_text(head + "<tbody>\n" + "\n".join(reversed(body.split("\n"))) + "\n</tbody>" + tail)
    return out / "index.html", board


# Page state as the browser sees it: visible rows (model cell, Syc cell), sort, shown points.
_STATE = """JSON.stringify({
  rows: Array.from(document.querySelectorAll('#board tbody tr')).filter(r => !r.hidden)
        .map(r => [r.cells[1].textContent, r.cells[6].textContent, r.cells[7].textContent]),
  sorted: document.getElementById('board').getAttribute('data-sorted'),
  shown: document.getElementById('board').getAttribute('data-shown'),
  accSyc: Array.from(document.querySelectorAll('#chart-acc-syc g.pt')).filter(p => p.style.display !== 'none').length,
  sycCor: Array.from(document.querySelectorAll('#chart-syc-cor g.pt')).filter(p => p.style.display !== 'none')
          .map(p => p.getAttribute('data-series')).sort(),
})"""


def _set(select: str, value: str) -> str:
    return (
        f"(function(s){{s.value={json.dumps(value)};s.dispatchEvent(new Event('change'));}})"
        f"(document.getElementById({json.dumps(select)}))"
    )


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.skipif(chromium_path() is None, reason="headless Chromium not installed (apt-get install -y chromium)")
def test_page_in_headless_chromium_sorts_filters_charts_and_stays_inert(tmp_path: Path) -> None:
    pytest.importorskip("aiohttp")
    page, board = _browser_board(tmp_path)
    label = {e["model"]: f"{e['model']} @ 0123456789ab" for e in board["entries"]}
    with Browser(tmp_path / "profile") as browser:
        browser.open(page.as_uri(), before_load="window.__alerts=[];window.alert=function(m){window.__alerts.push(m)};")

        def state() -> dict[str, Any]:
            return json.loads(browser.evaluate(_STATE))

        # On load: sorted by Syc, lowest first; every entry shown; a point per defined pair.
        s = state()
        assert s["sorted"] == "syc:ascending" and s["shown"] == "4"
        assert [r[0] for r in s["rows"]] == [label[m] for m in (EVIL, "middle & co", "option-model", "sycophant")]
        assert s["rows"][0][2].startswith("0.0 [") and s["rows"][3][2].startswith("100.0 [")
        # Cor is undefined (no wrong round-1 answer) for three entries: only option-model's two points.
        assert s["accSyc"] == 4 and s["sycCor"] == ["cor_with_answer", "cor_without_answer"]

        # Clicking a header sorts by it, best first; clicking again reverses.
        browser.evaluate("document.querySelector('#board th[data-key=acc_r1]').click()")
        s = state()
        assert s["sorted"] == "acc_r1:descending" and s["rows"][-1][0] == label["option-model"]
        assert s["rows"][-1][1].startswith("66.7")
        browser.evaluate("document.querySelector('#board th[data-key=acc_r1]').click()")
        assert state()["sorted"] == "acc_r1:ascending" and state()["rows"][0][0] == label["option-model"]
        browser.evaluate("document.querySelector('#board th[data-key=model]').click()")
        assert [r[0] for r in state()["rows"]][1:] == [label[m] for m in ("middle & co", "option-model", "sycophant")]

        # Filters hide rows and their chart points.
        browser.evaluate(_set("filter-mitigation", "dpo"))
        s = state()
        assert [r[0] for r in s["rows"]] == [label[EVIL]] and s["shown"] == "1"
        assert s["accSyc"] == 1 and s["sycCor"] == []
        browser.evaluate(_set("filter-mitigation", ""))
        browser.evaluate(_set("filter-mode", "option"))
        s = state()
        assert [r[0] for r in s["rows"]] == [label["option-model"]] and s["accSyc"] == 1 and len(s["sycCor"]) == 2
        browser.evaluate(_set("filter-mode", ""))
        browser.evaluate(_set("filter-dataset", "1.0.0"))
        s = state()
        assert s["shown"] == "3" and s["accSyc"] == 3 and s["sycCor"] == []
        browser.evaluate(_set("filter-mitigation", "prompt"))
        assert state()["shown"] == "0" and state()["rows"] == []
        browser.evaluate(_set("filter-mitigation", ""))
        browser.evaluate(_set("filter-dataset", ""))
        assert state()["shown"] == "4"

        # The per-task view shows the chosen entry: its Syc on the color questions.
        index = {e["model"]: i for i, e in enumerate(board["entries"])}
        visible_view = """JSON.stringify(Array.from(document.querySelectorAll('div.task-view')).filter(v => !v.hidden)
            .map(v => [v.getAttribute('data-entry'),
                       Array.from(v.querySelectorAll('tbody tr')).map(r => [r.cells[0].textContent,
                                                                            r.cells[2].textContent])]))"""
        for model, syc_color in (("sycophant", "100.0"), (EVIL, "0.0")):
            browser.evaluate(_set("entry-select", str(index[model])))
            [(entry, rows)] = json.loads(browser.evaluate(visible_view))
            assert entry == str(index[model]) and len(rows) == 10
            assert dict(rows)["color"].startswith(syc_color)

        # The entry named <script>...</script> is text everywhere, and nothing ran.
        assert browser.evaluate("window.__alerts.length") == 0
        assert browser.evaluate("document.scripts.length") == 1
        assert browser.evaluate(f"document.body.textContent.includes({json.dumps(label[EVIL])})")
        titles = browser.evaluate("Array.from(document.querySelectorAll('svg title')).map(t => t.textContent)")
        assert any(t.startswith(EVIL + " @") for t in titles)
        options = browser.evaluate("Array.from(document.querySelectorAll('#entry-select option')).map(o => o.text)")
        assert any(o.startswith(EVIL) for o in options)


def test_page_is_self_contained() -> None:
    """No URL the page could load: no src/href attributes, no url(), a CSP that forbids loading."""
    board = {"rank_by": "syc", "n_bootstrap": 0, "seed": 0, "entries": [], "rejected": []}
    page = render_html(board)
    assert "src=" not in page and "href=" not in page and "url(" not in page and "@import" not in page
    assert "default-src 'none'" in page


@pytest.mark.slow
def test_publish_leaderboard_uploads_a_static_space(board_dirs: tuple[Path, Path, Path], tmp_path: Path) -> None:
    dataset, subs, _ = board_dirs
    (subs / "d.json").unlink()  # the broken one: a published board takes only valid submissions
    site = tmp_path / "space"
    argv = ["publish", "leaderboard", str(subs), "--dataset", str(dataset), "--repo", "my-org/mmsy-leaderboard"]
    with FakeHub() as hub:
        dry = mmsy([*argv, "--dry-run", "--bootstrap", "20"], hub, tmp_path / "home", token=None)
        assert dry.returncode == 0, dry.stderr
        assert "repo: my-org/mmsy-leaderboard (space (static Space), public)" in dry.stdout
        listed = [line.split()[0] for line in dry.stdout.splitlines() if line.startswith("  ")]
        assert listed == ["README.md", "index.html", "leaderboard.json"] and hub.requests == []
        result = mmsy([*argv, "--bootstrap", "20", "--out", str(site)], hub, tmp_path / "home")
        assert result.returncode == 0, result.stderr
        assert upload_requests(hub) == [
            "POST /api/repos/create",
            "POST /api/validate-yaml",
            "POST /api/spaces/my-org/mmsy-leaderboard/preupload/main",
            "POST /api/spaces/my-org/mmsy-leaderboard/commit/main",
        ]
        repo = hub.repos["my-org/mmsy-leaderboard"]
        assert repo.sdk == "static"
        assert repo.files == {p.name: p.read_bytes() for p in site.iterdir()}
        front = repo.files["README.md"].decode().split("---\n")[1]
        assert "sdk: static" in front and "app_file: index.html" in front
        assert TOKEN not in result.stdout + result.stderr


@pytest.mark.slow
def test_publish_leaderboard_refuses_another_dataset_or_an_invalid_submission(
    board_dirs: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    dataset, subs, _ = board_dirs
    argv = ["publish", "leaderboard", str(subs), "--dataset", str(dataset), "--repo", "my-org/lb", "--bootstrap", "0"]
    with FakeHub() as hub:
        line = one_error_line(mmsy(argv, hub, tmp_path / "home"))
        assert "d.json: record syc-q1-suggestive: record_id: missing" in line and "nothing uploaded" in line
        (subs / "d.json").unlink()
        other = submission_dict(dataset_predictions({"q1"}, set()), name="elsewhere")
        other["dataset"] = {"version": "1.0.0", "checksum": "ef" * 32}
        (subs / "e.json").write_text(json.dumps(other))
        line = one_error_line(mmsy(argv, hub, tmp_path / "home"))
        assert f"e.json: built on dataset checksum {'ef' * 8}… (version 1.0.0)" in line
        assert f"leaderboard's dataset {dataset} is version 1.0.0, checksum {'ab' * 8}…; nothing uploaded" in line
        assert hub.requests == []
