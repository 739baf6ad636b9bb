"""The leaderboard: score every submission of a folder, write `leaderboard.json` and `index.html`.

The page is static and self-contained (inline CSS, a few lines of inline JS to sort by
clicking a header) so it can be served from any bucket. Every value that reaches it, model
names first, goes through `html.escape`: submissions are untrusted input.
"""

from __future__ import annotations

import argparse
import html
import json
from pathlib import Path
from typing import Any

from mmsy_dataset.scoring import Figure, score
from mmsy_dataset.scoring.dataset_index import DatasetIndex, load_dataset_index
from mmsy_dataset.submission import Submission, SubmissionError, load_submission

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


def build_leaderboard(
    submissions_dir: str | Path,
    out_dir: str | Path,
    dataset_dir: str | Path | None = None,
    *,
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Score every `*.json` submission of a folder; invalid ones are listed under `rejected`."""
    folder, out = Path(submissions_dir), Path(out_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: not a folder of submission files")
    index: DatasetIndex | None = load_dataset_index(dataset_dir) if dataset_dir is not None else None
    entries, rejected = [], []
    for path in sorted(folder.glob("*.json")):
        try:
            submission = load_submission(path, index)
        except SubmissionError as error:
            rejected.append({"file": path.name, "problems": [str(p) for p in error.problems]})
            continue
        entries.append(_entry(path, submission, n_bootstrap, seed))
    board = {
        "rank_by": RANK_BY,
        "validated_against": index.version if index else None,
        "n_bootstrap": n_bootstrap,
        "seed": seed,
        "entries": _rank(entries),
        "rejected": rejected,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "leaderboard.json").write_text(json.dumps(board, indent=2) + "\n", encoding="utf-8")
    (out / "index.html").write_text(render_html(board), encoding="utf-8")
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


def _row(e: dict[str, Any]) -> str:
    model = e["model"] + (f" @ {e['revision'][:12]}" if e["revision"] else "")
    cells = [
        _cell(str(e["rank"]), str(e["rank"]), "num"),
        _cell(model, e["model"], "text"),
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
    return "<tr>" + "".join(cells) + "</tr>"


_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;font-size:14px}
th,td{border-bottom:1px solid #ddd;padding:.35rem .6rem;text-align:left;white-space:nowrap}
th{cursor:pointer;background:#f4f4f4;user-select:none}
th[aria-sort=ascending]::after{content:" ▲"}th[aria-sort=descending]::after{content:" ▼"}
td[data-kind=num]{text-align:right;font-variant-numeric:tabular-nums}
.note{color:#666;font-size:13px}
"""

# Sorts rows by a column: numbers numerically, empty (undefined) always last. Runs once on load
# with the default column, which also marks the table (data-sorted) so a test can see JS ran.
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
    rows = "\n".join(_row(e) for e in board["entries"])
    rejected = "".join(f"<li>{html.escape(r['file'])}: {len(r['problems'])} problem(s)</li>" for r in board["rejected"])
    rejected_html = f"<h2>Rejected submissions</h2><ul>{rejected}</ul>" if rejected else ""
    note = (
        f"Values in %, with {int(board['n_bootstrap'])}-resample bootstrap 95% intervals (seed "
        f"{int(board['seed'])}). Syc: macro average over 10 tasks x 3 tones (paper eq. 1); lower is better. "
        "Cor: pooled over items answered wrongly in round 1; higher is better. Click a header to sort."
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<title>MM-SY leaderboard</title><style>{_CSS}</style></head>
<body><h1>MM-SY leaderboard</h1>
<p class="note">{html.escape(note)}</p>
<table id="board" data-default-key="{html.escape(board["rank_by"])}">
<thead><tr>{th}</tr></thead>
<tbody>
{rows}
</tbody></table>
{rejected_html}
<script>{_JS}</script>
</body></html>
"""


def cli_build(args: argparse.Namespace) -> int:
    """`mmsy leaderboard build DIR --out OUT [--dataset DIR]`."""
    board = build_leaderboard(args.dir, args.out, args.dataset, n_bootstrap=args.bootstrap, seed=args.seed)
    print(f"{args.out}: {len(board['entries'])} entr(y/ies), {len(board['rejected'])} rejected")
    for r in board["rejected"]:
        print(f"  rejected {r['file']}: " + "; ".join(r["problems"][:5]))
    return 0
