"""The leaderboard: score every submission of a folder, write `leaderboard.json` and `index.html`.

Low Syc alone rewards a stubborn model that never takes a correction (paper 3.3), so the page
shows each entry's Acc@R1, Syc and Cor with and without the answer side by side, with their
intervals: a sortable table, an Acc@R1-vs-Syc and a Syc-vs-Cor chart, and a per-task view of
one entry, filtered by mitigation, scoring mode and dataset version.

The page is static and self-contained (inline CSS, inline SVG charts drawn here, a few lines
of inline JS that only sort, filter and show/hide; a CSP that forbids loading anything) so it
works offline and from any bucket or static Space. Every value that reaches it, model names
first, goes through `html.escape`, and the script never writes HTML: submissions are
untrusted input.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from mmsy_dataset.errors import MmsyError
from mmsy_dataset.scoring import Figure, score
from mmsy_dataset.scoring.dataset_index import DatasetIndex, load_dataset_index
from mmsy_dataset.submission import Submission, SubmissionError, load_submission, read_submission_json

#: Columns of the table: (key in the entry's metrics, header, better direction).
METRIC_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("acc_r1", "Acc@R1", "higher"),
    ("syc", "Syc", "lower"),
    ("syc_4way", "Syc 4-way", "lower"),
    ("cor_with_answer", "Cor w/ a", "higher"),
    ("cor_without_answer", "Cor w/o a", "higher"),
)
#: Default ranking (and the column the page sorts by on load): lowest Syc first.
RANK_BY = "syc"


def _entry(path: Path, submission: Submission, n_bootstrap: int, seed: int) -> dict[str, Any]:
    report = score(submission.predictions, n_bootstrap=n_bootstrap, seed=seed)
    return {
        "file": path.name,
        "model": submission.model.name,
        "revision": submission.model.revision,
        "weights_sha256": submission.model.weights_sha256,
        "parameters": submission.model.parameters,
        "mitigation": submission.mitigation.value,
        "mitigation_details": submission.mitigation_details,
        "mode": submission.mode.value,
        "dataset_version": submission.dataset.version,
        "dataset_checksum": submission.dataset.checksum,
        "submitted_by": submission.submitted_by,
        "n_predictions": report.n_predictions,
        "metrics": {key: report.metrics[key].overall.model_dump() for key, _, _ in METRIC_COLUMNS},
        "by_task": {
            key: {task: fig.model_dump() for task, fig in report.metrics[key].by_task.items()}
            for key, _, _ in METRIC_COLUMNS
        },
    }


def _rank(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rank within each dataset version by Syc (undefined last), ties by Acc@R1 descending."""

    def key(e: dict[str, Any]) -> tuple[str, int, float, float, str]:
        syc = e["metrics"][RANK_BY]["value"]
        acc = e["metrics"]["acc_r1"]["value"]
        return (e["dataset_version"], syc is None, syc or 0.0, -(acc or 0.0), e["model"])

    ordered = sorted(entries, key=key)
    last_version, rank = None, 0
    for e in ordered:
        rank = 1 if e["dataset_version"] != last_version else rank + 1
        last_version = e["dataset_version"]
        e["rank"] = rank
    return ordered


def score_board(
    submissions_dir: str | Path, index: DatasetIndex | None, *, n_bootstrap: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """The leaderboard dict of every `*.json` submission of a folder; invalid ones under `rejected`."""
    folder = Path(submissions_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: not a folder of submission files")
    entries, rejected = [], []
    for path in sorted(folder.glob("*.json")):
        try:
            submission = load_submission(path, index)
        except SubmissionError as error:
            rejected.append({"file": path.name, "problems": [str(p) for p in error.problems]})
            continue
        entries.append(_entry(path, submission, n_bootstrap, seed))
    return {
        "rank_by": RANK_BY,
        "validated_against": index.version if index else None,
        "dataset_checksum": index.checksum if index else None,
        "n_bootstrap": n_bootstrap,
        "seed": seed,
        "entries": _rank(entries),
        "rejected": rejected,
    }


def write_board(board: dict[str, Any], out_dir: str | Path) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "leaderboard.json").write_text(json.dumps(board, indent=2) + "\n", encoding="utf-8")
    (out / "index.html").write_text(render_html(board), encoding="utf-8")


def build_leaderboard(
    submissions_dir: str | Path,
    out_dir: str | Path,
    dataset_dir: str | Path | None = None,
    *,
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Score every `*.json` submission of a folder; invalid ones are listed under `rejected`."""
    index: DatasetIndex | None = load_dataset_index(dataset_dir) if dataset_dir is not None else None
    board = score_board(submissions_dir, index, n_bootstrap=n_bootstrap, seed=seed)
    write_board(board, out_dir)
    return board


#: Front matter of the static Space that serves the page (`mmsy publish leaderboard`).
SPACE_README = """---
title: MM-SY leaderboard
emoji: 🪞
colorFrom: blue
colorTo: red
sdk: static
app_file: index.html
pinned: false
tags:
- leaderboard
- sycophancy
- vision-language
---

# MM-SY leaderboard

Acc@R1, Syc and Cor (with and without the answer) of vision-language models on the MM-SY
benchmark, dataset version {version} (checksum `{checksum}`). `index.html` is the page,
`leaderboard.json` its data. Entries are made with `mmsy submission create` from an `mmsy eval`
run and scored by `mmsy_dataset.scoring`.
"""


class LeaderboardError(MmsyError):
    """Submissions that cannot be published together."""


def build_site(
    submissions_dir: str | Path,
    out_dir: str | Path,
    dataset_dir: str | Path,
    *,
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """The static Space of a leaderboard: every submission must be valid for `dataset_dir`.

    Unlike `build_leaderboard`, which lists invalid submissions as rejected, a published board
    refuses them before anything is written: a score on another dataset build is not comparable.
    """
    folder = Path(submissions_dir)
    index = load_dataset_index(dataset_dir)
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        raw, _ = read_submission_json(path)
        ref = raw.get("dataset") if isinstance(raw, dict) else None
        checksum = ref.get("checksum") if isinstance(ref, dict) else None
        if isinstance(ref, dict) and isinstance(checksum, str) and checksum != index.checksum:
            raise LeaderboardError(
                f"{path}: built on dataset checksum {checksum[:16]}… (version {ref.get('version')}), but the "
                f"leaderboard's dataset {dataset_dir} is version {index.version}, checksum {index.checksum[:16]}…; "
                "nothing uploaded"
            )
    board = score_board(folder, index, n_bootstrap=n_bootstrap, seed=seed)
    if board["rejected"]:
        first = board["rejected"][0]
        raise LeaderboardError(
            f"{folder / first['file']}: {first['problems'][0]} ({len(first['problems'])} problem(s), "
            f"{len(board['rejected'])} invalid file(s); `mmsy submission validate` lists them); nothing uploaded"
        )
    if not board["entries"]:
        raise LeaderboardError(f"{folder}: no submission *.json files; nothing uploaded")
    write_board(board, out_dir)
    readme = SPACE_README.format(version=index.version, checksum=index.checksum)
    (Path(out_dir) / "README.md").write_text(readme, encoding="utf-8")
    return board


def _pct(fig: dict[str, Any]) -> tuple[str, str]:
    """(cell text, sort key) of a figure; undefined shows a dash and sorts last."""
    parsed = Figure.model_validate(fig)
    if parsed.value is None:
        return f"— (n={parsed.n})", ""
    text = f"{100 * parsed.value:.1f}"
    if parsed.ci_low is not None and parsed.ci_high is not None:
        text += f" [{100 * parsed.ci_low:.1f}, {100 * parsed.ci_high:.1f}]"
    return text, f"{parsed.value:.6f}"


def _cell(text: str, sort: str, kind: str) -> str:
    return f'<td data-sort="{html.escape(sort)}" data-kind="{kind}">{html.escape(text)}</td>'


def _label(e: dict[str, Any]) -> str:
    return e["model"] + (f" @ {e['revision'][:12]}" if e["revision"] else "")


def _row(i: int, e: dict[str, Any]) -> str:
    cells = [
        _cell(str(e["rank"]), str(e["rank"]), "num"),
        _cell(_label(e), e["model"], "text"),
        _cell(
            f"{e['parameters'] / 1e9:.2f} B" if e["parameters"] >= 1e8 else f"{e['parameters']:,}",
            str(e["parameters"]),
            "num",
        ),
        _cell(e["mitigation"], e["mitigation"], "text"),
        _cell(e["mode"], e["mode"], "text"),
        _cell(e["dataset_version"], e["dataset_version"], "text"),
    ]
    for key, _, _ in METRIC_COLUMNS:
        cells.append(_cell(*_pct(e["metrics"][key]), "num"))
    attrs = " ".join(f'data-{k}="{html.escape(str(e[f]))}"' for k, f in _FILTERS_BY_ATTR)
    return f'<tr data-entry="{i}" {attrs}>' + "".join(cells) + "</tr>"


#: Filters: (row attribute, entry field, label).
_FILTERS = (
    ("mitigation", "mitigation", "Mitigation"),
    ("mode", "mode", "Scoring mode"),
    ("dataset", "dataset_version", "Dataset version"),
)
_FILTERS_BY_ATTR = tuple((attr, f) for attr, f, _ in _FILTERS)


def _filters(entries: list[dict[str, Any]]) -> str:
    parts = []
    for attr, f, label in _FILTERS:
        values = sorted({str(e[f]) for e in entries})
        options = '<option value="">all</option>' + "".join(
            f'<option value="{html.escape(v)}">{html.escape(v)}</option>' for v in values
        )
        parts.append(
            f'<label>{html.escape(label)} <select class="filter" id="filter-{attr}" data-attr="{attr}">'
            f"{options}</select></label>"
        )
    return '<div class="filters">' + " ".join(parts) + ' <span id="shown" class="note"></span></div>'


# --- charts: inline SVG, one point per entry (and series), CI whiskers, drawn here ------------------

_W, _H, _M = 380, 300, 46
#: Marker colour per mitigation (unknown ones cycle through the rest).
_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf", "#7f7f7f")


def _color(mitigation: str, order: list[str]) -> str:
    return _COLORS[order.index(mitigation) % len(_COLORS)]


def _sx(v: float) -> float:
    return round(_M + v * (_W - _M - 14), 1)


def _sy(v: float) -> float:
    return round(_H - _M - v * (_H - _M - 14), 1)


def _axes(x_label: str, y_label: str) -> str:
    out = [f'<rect x="{_M}" y="14" width="{_W - _M - 14}" height="{_H - _M - 14}" class="frame"/>']
    for t in (0, 0.25, 0.5, 0.75, 1.0):
        out.append(f'<line x1="{_sx(t)}" y1="{_sy(0)}" x2="{_sx(t)}" y2="{_sy(1)}" class="grid"/>')
        out.append(f'<line x1="{_sx(0)}" y1="{_sy(t)}" x2="{_sx(1)}" y2="{_sy(t)}" class="grid"/>')
        out.append(f'<text x="{_sx(t)}" y="{_sy(0) + 14}" text-anchor="middle">{int(100 * t)}</text>')
        out.append(f'<text x="{_M - 5}" y="{_sy(t) + 4}" text-anchor="end">{int(100 * t)}</text>')
    out.append(f'<text x="{(_M + _W) / 2}" y="{_H - 8}" text-anchor="middle">{html.escape(x_label)}</text>')
    out.append(
        f'<text x="12" y="{(_H - _M) / 2}" text-anchor="middle" transform="rotate(-90 12 {(_H - _M) / 2})">'
        f"{html.escape(y_label)}</text>"
    )
    return "".join(out)


def _point(i: int, e: dict[str, Any], x_key: str, y_key: str, series: str, color: str, hollow: bool) -> str:
    x, y = Figure.model_validate(e["metrics"][x_key]), Figure.model_validate(e["metrics"][y_key])
    if x.value is None or y.value is None:
        return ""
    cx, cy = _sx(x.value), _sy(y.value)
    whiskers = ""
    if x.ci_low is not None and x.ci_high is not None:
        whiskers += f'<line x1="{_sx(x.ci_low)}" y1="{cy}" x2="{_sx(x.ci_high)}" y2="{cy}" stroke="{color}"/>'
    if y.ci_low is not None and y.ci_high is not None:
        whiskers += f'<line x1="{cx}" y1="{_sy(y.ci_low)}" x2="{cx}" y2="{_sy(y.ci_high)}" stroke="{color}"/>'
    fill = "white" if hollow else color
    title = f"{_label(e)}: {x_key} {100 * x.value:.1f}, {y_key} {100 * y.value:.1f}"
    return (
        f'<g class="pt" data-entry="{i}" data-series="{series}">{whiskers}'
        f'<circle cx="{cx}" cy="{cy}" r="5" fill="{fill}" stroke="{color}" stroke-width="2">'
        f"<title>{html.escape(title)}</title></circle></g>"
    )


def _chart(chart_id: str, title: str, x_label: str, y_label: str, points: list[str], legend: str) -> str:
    return (
        f"<figure><figcaption>{html.escape(title)}</figcaption>"
        f'<svg id="{chart_id}" xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" '
        f'viewBox="0 0 {_W} {_H}" role="img" aria-label="{html.escape(title)}">'
        f"{_axes(x_label, y_label)}{''.join(points)}</svg>{legend}</figure>"
    )


def _charts(entries: list[dict[str, Any]]) -> str:
    order = sorted({e["mitigation"] for e in entries})
    legend = '<div class="legend">' + " ".join(
        f'<span><i style="background:{_color(m, order)}"></i>{html.escape(m)}</span>' for m in order
    )
    acc_syc = [
        _point(i, e, "syc", "acc_r1", "acc_syc", _color(e["mitigation"], order), False) for i, e in enumerate(entries)
    ]
    syc_cor = [
        _point(i, e, key, "syc", key, _color(e["mitigation"], order), key == "cor_without_answer")
        for i, e in enumerate(entries)
        for key in ("cor_with_answer", "cor_without_answer")
    ]
    return (
        '<div class="charts">'
        + _chart(
            "chart-acc-syc",
            "Acc@R1 vs Syc: up and to the left is better",
            "Syc (%) — lower is better",
            "Acc@R1 (%)",
            acc_syc,
            legend + "</div>",
        )
        + _chart(
            "chart-syc-cor",
            "Syc vs Cor: a stubborn model sits bottom-left (low Syc, low Cor)",
            "Cor (%): filled with answer, hollow without",
            "Syc (%)",
            syc_cor,
            legend + "</div>",
        )
        + "</div>"
    )


# --- per-task view of one entry ---------------------------------------------------------------------


def _task_view(i: int, e: dict[str, Any], selected: bool) -> str:
    heads = "".join(f"<th>{html.escape(label)}</th>" for _, label, _ in METRIC_COLUMNS)
    tasks = sorted({t for figures in e["by_task"].values() for t in figures})
    rows = []
    for task in tasks:
        cells = []
        for key, _, _ in METRIC_COLUMNS:
            fig = e["by_task"][key].get(task)
            text = _pct(fig)[0] + (f" (n={fig['n']})" if fig and fig["value"] is not None else "") if fig else "—"
            cells.append(f'<td data-kind="num">{html.escape(text)}</td>')
        rows.append(f"<tr><th>{html.escape(task.replace('_', ' '))}</th>{''.join(cells)}</tr>")
    hidden = "" if selected else " hidden"
    return (
        f'<div class="task-view" data-entry="{i}"{hidden}><table class="tasks"><thead><tr><th>Task</th>{heads}'
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _detail(entries: list[dict[str, Any]]) -> str:
    if not entries:
        return ""
    options = "".join(
        f'<option value="{i}">{html.escape(_label(e))} ({html.escape(e["mitigation"])}, {html.escape(e["mode"])}, '
        f"{html.escape(e['dataset_version'])})</option>"
        for i, e in enumerate(entries)
    )
    views = "".join(_task_view(i, e, i == 0) for i, e in enumerate(entries))
    return f'<h2>Per task</h2><p><label>Entry <select id="entry-select">{options}</select></label></p>{views}'


_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;font-size:14px}
th,td{border-bottom:1px solid #ddd;padding:.35rem .6rem;text-align:left;white-space:nowrap}
#board th{cursor:pointer;background:#f4f4f4;user-select:none}
th[aria-sort=ascending]::after{content:" ▲"}th[aria-sort=descending]::after{content:" ▼"}
td[data-kind=num]{text-align:right;font-variant-numeric:tabular-nums}
.note{color:#666;font-size:13px}
.filters{margin:1rem 0}.filters label{margin-right:1rem}
.charts{display:flex;flex-wrap:wrap;gap:2rem;margin:1.5rem 0}
figure{margin:0}figcaption{font-size:14px;font-weight:600;margin-bottom:.3rem}
svg text{font-size:11px;fill:#444}svg .grid{stroke:#eee}svg .frame{fill:none;stroke:#999}
.legend{font-size:12px}.legend span{margin-right:.8rem}
.legend i{display:inline-block;width:10px;height:10px;border-radius:5px;margin-right:3px}
"""

# Sorts rows by a column (numbers numerically, empty = undefined always last), filters rows and
# chart points by mitigation / scoring mode / dataset version, and shows one entry's per-task
# table. It only moves, hides and shows elements the server rendered: it never writes HTML.
_JS = """
(function(){
  var table=document.getElementById('board'), body=table.tBodies[0];
  var heads=table.tHead.rows[0].cells;
  function sortBy(col, dir){
    var rows=Array.prototype.slice.call(body.rows);
    rows.sort(function(a,b){
      var x=a.cells[col].getAttribute('data-sort'), y=b.cells[col].getAttribute('data-sort');
      if(x===''&&y==='')return 0; if(x==='')return 1; if(y==='')return -1;
      var c=a.cells[col].getAttribute('data-kind')==='num'?parseFloat(x)-parseFloat(y):x.localeCompare(y);
      return dir==='ascending'?c:-c;
    });
    rows.forEach(function(r){body.appendChild(r);});
    for(var i=0;i<heads.length;i++){heads[i].removeAttribute('aria-sort');}
    heads[col].setAttribute('aria-sort',dir);
    table.setAttribute('data-sorted',heads[col].getAttribute('data-key')+':'+dir);
  }
  for(var i=0;i<heads.length;i++){(function(i){
    heads[i].addEventListener('click',function(){
      var cur=heads[i].getAttribute('aria-sort');
      var dir=cur?(cur==='ascending'?'descending':'ascending'):heads[i].getAttribute('data-default');
      sortBy(i,dir);
    });
  })(i);}
  for(var j=0;j<heads.length;j++){
    if(heads[j].getAttribute('data-key')===table.getAttribute('data-default-key')){
      sortBy(j,heads[j].getAttribute('data-default'));
    }
  }
  var filters=Array.prototype.slice.call(document.querySelectorAll('select.filter'));
  function applyFilters(){
    var shown={}, count=0;
    Array.prototype.forEach.call(body.rows,function(r){
      var ok=filters.every(function(f){
        return f.value===''||r.getAttribute('data-'+f.getAttribute('data-attr'))===f.value;
      });
      r.hidden=!ok; shown[r.getAttribute('data-entry')]=ok; if(ok)count++;
    });
    Array.prototype.forEach.call(document.querySelectorAll('g.pt'),function(p){
      p.style.display=shown[p.getAttribute('data-entry')]?'':'none';
    });
    table.setAttribute('data-shown',String(count));
    document.getElementById('shown').textContent=count+' of '+body.rows.length+' entries shown';
  }
  filters.forEach(function(f){f.addEventListener('change',applyFilters);});
  applyFilters();
  var pick=document.getElementById('entry-select');
  if(pick){pick.addEventListener('change',function(){
    Array.prototype.forEach.call(document.querySelectorAll('div.task-view'),function(v){
      v.hidden=v.getAttribute('data-entry')!==pick.value;
    });
  });}
})();
"""


# The page loads nothing: no network request can leak from it, whatever a submission contains.
_CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'"


def render_html(board: dict[str, Any]) -> str:
    """The static page of a leaderboard dict (as written to `leaderboard.json`)."""
    heads = [
        ("rank", "#", "ascending"),
        ("model", "Model", "ascending"),
        ("parameters", "Params", "descending"),
        ("mitigation", "Mitigation", "ascending"),
        ("mode", "Scoring", "ascending"),
        ("dataset", "Dataset", "descending"),
    ]
    heads += [
        (key, f"{label} {'↓' if better == 'lower' else '↑'}", "ascending" if better == "lower" else "descending")
        for key, label, better in METRIC_COLUMNS
    ]
    th = "".join(
        f'<th data-key="{html.escape(k)}" data-default="{d}" title="click to sort">{html.escape(label)}</th>'
        for k, label, d in heads
    )
    entries = board["entries"]
    rows = "\n".join(_row(i, e) for i, e in enumerate(entries))
    rejected = "".join(f"<li>{html.escape(r['file'])}: {len(r['problems'])} problem(s)</li>" for r in board["rejected"])
    rejected_html = f"<h2>Rejected submissions</h2><ul>{rejected}</ul>" if rejected else ""
    note = (
        f"Values in %, with {int(board['n_bootstrap'])}-resample bootstrap 95% intervals (seed "
        f"{int(board['seed'])}). Syc: macro average over 10 tasks x 3 tones (paper eq. 1); lower is better, "
        "but only next to Cor: a model that ignores every push, right or wrong, has low Syc and low Cor. "
        "Cor: pooled over items answered wrongly in round 1; higher is better. Click a header to sort."
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<title>MM-SY leaderboard</title><style>{_CSS}</style></head>
<body><h1>MM-SY leaderboard</h1>
<p class="note">{html.escape(note)}</p>
{_filters(entries)}
<table id="board" data-default-key="{html.escape(board["rank_by"])}">
<thead><tr>{th}</tr></thead>
<tbody>
{rows}
</tbody></table>
{_charts(entries)}
{_detail(entries)}
{rejected_html}
<script>{_JS}</script>
</body></html>
"""
