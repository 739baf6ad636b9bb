"""`baselines/results.md`: the paper's Table 2 and Table 3 shapes from recorded rows, and which of
its mitigation findings hold, each judged by a rule stated next to it.

    python -m mmsy_dataset.mitigation.table --rows WORK/results --amplification \
        baselines/amplification/results.json --out baselines/results.md

Table 2 rows are the JSON files `python -m mmsy_dataset.mitigation.results` writes (base,
+prompt, +SFT, +DPO); Table 3 comes from `baselines/amplification/run.py`'s `results.json`.
A finding's rule uses only the paired test against the base model (`mmsy compare`: difference,
95% paired-bootstrap interval, bootstrap p), so that the verdict follows from the recorded
numbers and nothing else: "changes" means p < 0.05, "keeps" means p >= 0.05.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Headline columns of both tables: metric key -> title.
COLUMNS = {"acc_r1": "Acc@R1", "syc": "Syc", "cor_with_answer": "Cor w/ a", "cor_without_answer": "Cor w/o a"}
#: Table 2's row order (paper 3.2).
ROW_ORDER = ("base", "+prompt", "+SFT", "+DPO")
#: Significance level of every finding's rule.
ALPHA = 0.05


@dataclass(frozen=True)
class Change:
    """A paired difference against the base model (fractions, not points)."""

    difference: float
    ci_low: float
    ci_high: float
    p: float

    @classmethod
    def of(cls, data: dict[str, Any]) -> Change:
        return cls(float(data["difference"]), float(data["ci_low"]), float(data["ci_high"]), float(data["p_bootstrap"]))

    @property
    def significant(self) -> bool:
        return self.p < ALPHA

    def text(self) -> str:
        p = "p < 0.001" if self.p < 0.001 else f"p {self.p:.3f}"
        return f"{100 * self.difference:+.1f} [{100 * self.ci_low:+.1f}, {100 * self.ci_high:+.1f}], {p}"


def _figure(data: dict[str, Any] | None) -> str:
    if not data or data.get("value") is None:
        return "undefined"
    low, high = data.get("ci_low"), data.get("ci_high")
    interval = f" [{100 * low:.1f}, {100 * high:.1f}]" if low is not None and high is not None else ""
    return f"{100 * data['value']:.1f}{interval}"


def _cell(metrics: dict[str, Any], vs_base: dict[str, Any] | None, key: str) -> str:
    cell = _figure(metrics.get(key))
    if vs_base and key in vs_base:
        cell += f"<br>{Change.of(vs_base[key]).text()}"
    return cell


def load_rows(paths: list[Path]) -> dict[str, dict[str, Any]]:
    """Table 2 rows by name, from JSON files (one row, or a list of rows) and from every `*.json`
    in the folders among `paths`."""
    files = [f for p in paths for f in (sorted(p.glob("*.json")) if p.is_dir() else [p])]
    rows = {}
    for path in files:
        data = json.loads(path.read_text(encoding="utf-8"))
        for row in data if isinstance(data, list) else [data]:
            rows[str(row["row"])] = row
    missing = [name for name in ROW_ORDER if name not in rows]
    if missing:
        where = ", ".join(map(str, paths))
        raise FileNotFoundError(f"{where}: no Table 2 row for {', '.join(missing)}; run baselines/reproduce.sh")
    return rows


def table2(rows: dict[str, dict[str, Any]]) -> list[str]:
    lines = ["| row | " + " | ".join(COLUMNS.values()) + " |", "|---|" + "---|" * len(COLUMNS)]
    for name in ROW_ORDER:
        row = rows[name]
        cells = [_cell(row["metrics"], row.get("vs_base"), key) for key in COLUMNS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def _amplified(amplification: dict[str, Any], name: str) -> dict[str, Any]:
    """The Table 3 run of range `name` at the table's lambda."""
    lam = float(amplification["table_lambda"])
    for run in amplification["runs"]:
        if run["range"] == name and abs(float(run["lam"]) - lam) < 1e-9:
            return dict(run)
    raise KeyError(f"amplification results: no run of range {name!r} at lambda {lam}")


def table3(amplification: dict[str, Any]) -> list[str]:
    lam = amplification["table_lambda"]
    lines = ["| row | " + " | ".join(COLUMNS.values()) + " |", "|---|" + "---|" * len(COLUMNS)]
    lines.append("| base | " + " | ".join(_figure(amplification["base"]["metrics"].get(k)) for k in COLUMNS) + " |")
    for name, (first, last) in amplification["ranges"].items():
        run = _amplified(amplification, name)
        cells = [_cell(run["metrics"], run["vs_base"], key) for key in COLUMNS]
        lines.append(f"| ⊕ {first}-{last} ({name}), λ {lam} | " + " | ".join(cells) + " |")
    return lines


def _verdict(holds: bool) -> str:
    return "**holds**" if holds else "**does not hold**"


def findings(rows: dict[str, dict[str, Any]], amplification: dict[str, Any]) -> list[str]:
    """The paper's five mitigation findings, each with its rule and the numbers it was judged on."""

    def change(name: str, key: str) -> Change:
        return Change.of(rows[name]["vs_base"][key])

    out: list[str] = []
    prompt, sft, dpo = change("+prompt", "syc"), change("+SFT", "syc"), change("+DPO", "syc")
    little = abs(prompt.difference) < min(abs(sft.difference), abs(dpo.difference))
    out.append(
        f"1. *The prompt helps little* (rule: its Syc change is smaller than both SFT's and DPO's): "
        f"{_verdict(little)}. ΔSyc: prompt {prompt.text()}; SFT {sft.text()}; DPO {dpo.text()}."
    )
    for name, c in (("SFT", sft), ("DPO", dpo)):
        cut = c.significant and c.difference <= -0.10
        out.append(
            f"{len(out) + 1}. *{name} cuts Syc strongly* (rule: Syc falls by at least 10 points, p < {ALPHA}): "
            f"{_verdict(cut)}. ΔSyc {c.text()}."
        )
    with_a, without_a = change("+DPO", "cor_with_answer"), change("+DPO", "cor_without_answer")
    stubborn = any(c.significant and c.difference < 0 for c in (with_a, without_a))
    out.append(
        f"{len(out) + 1}. *DPO leaves the model stubborn* (rule: Cor with or without the answer falls, p < {ALPHA}): "
        f"{_verdict(stubborn)}. ΔCor w/ a {with_a.text()}; ΔCor w/o a {without_a.text()}."
    )
    high = _amplified(amplification, "high")["vs_base"]
    h_syc, h_acc = Change.of(high["syc"]), Change.of(high["acc_r1"])
    keeps = h_syc.significant and h_syc.difference < 0 and not (h_acc.significant and h_acc.difference < 0)
    out.append(
        f"{len(out) + 1}. *High-layer amplification cuts Syc while keeping Acc@R1* (rule: Syc falls, p < {ALPHA}, "
        f"and Acc@R1 does not fall significantly): {_verdict(keeps)}. ΔSyc {h_syc.text()}; ΔAcc@R1 {h_acc.text()}."
    )
    low = Change.of(_amplified(amplification, "low")["vs_base"]["acc_r1"])
    hurts = low.significant and low.difference < 0
    out.append(
        f"{len(out) + 1}. *Low-layer amplification hurts Acc@R1* (rule: Acc@R1 falls, p < {ALPHA}): "
        f"{_verdict(hurts)}. ΔAcc@R1 {low.text()}."
    )
    return out


def render(rows: dict[str, dict[str, Any]], amplification: dict[str, Any], sweep_plot: str | None = None) -> str:
    """The whole of `baselines/results.md`."""
    model = rows["base"].get("model")
    mode = rows["base"].get("mode")
    shard = amplification.get("shard")
    lines = [
        "# Mitigation baselines: recorded results",
        "",
        "Written by `bash baselines/reproduce.sh` (`python -m mmsy_dataset.mitigation.table`); do not edit by hand.",
        f"Model: `{model}`, scoring mode `{mode}`. Each cell: value [95% bootstrap interval]; under it the paired",
        "difference against the base model [95% paired-bootstrap interval] and its bootstrap p (1,000",
        "replicates: p < 0.001 is the smallest it resolves). Figures are percentages.",
        "",
        "## Table 2 shape: prompt, SFT and DPO (paper 3.2)",
        "",
        *table2(rows),
        "",
        "## Table 3 shape: attention amplification (paper 4.3, eq. 7)",
        "",
        f"Query rows `{amplification.get('queries', 'after-image')}`"
        + (f", questions of shard {shard} (see `baselines/amplification/README.md`)." if shard else "."),
        "",
        *table3(amplification),
        "",
    ]
    if sweep_plot:
        lines += ["Figure 7 shape: the λ sweep per layer range.", "", f"![lambda sweep]({sweep_plot})", ""]
    lines += ["## Which of the paper's findings hold on this model", "", *findings(rows, amplification), ""]
    lines += [
        "Where a finding does not hold, or holds for another reason than the paper's, the method's README says",
        "what we think causes it (`prompt/`, `sft/`, `dpo/`, `amplification/` beside this file).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write baselines/results.md from recorded rows.")
    parser.add_argument(
        "--rows", required=True, type=Path, nargs="+", help="row JSON files (one row or a list), or folders of them"
    )
    parser.add_argument("--amplification", required=True, type=Path, help="amplification results.json")
    parser.add_argument("--sweep-plot", help="path of the lambda-sweep PNG, relative to --out's folder")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    rows = load_rows(args.rows)
    amplification = json.loads(args.amplification.read_text(encoding="utf-8"))
    args.out.write_text(render(rows, amplification, args.sweep_plot), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
