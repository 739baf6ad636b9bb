"""The analyses under attention amplification see the amplified model: the captured attention is
the post-softmax attention eq. 7 produced (equal to the model's own uncached forward and to a
hand computation), lambda = 0 is the unamplified analysis bit for bit, and the CLI records it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from mmsy_dataset.analysis.capture import use_eager_attention
from mmsy_dataset.analysis.contexts import ROUND1_WRONG, collect
from mmsy_dataset.api.requests import ScoreRequest
from mmsy_dataset.cli import main
from mmsy_dataset.construction import Sizes
from mmsy_dataset.engine import protocol
from mmsy_dataset.engine.amplify import Amplifier
from mmsy_dataset.engine.config import AmplifySettings
from mmsy_dataset.engine.kv import forward_image_keys
from mmsy_dataset.engine.runner import Engine
from mmsy_dataset.predictions import ScoringMode
from tests.analysis.test_capture import probing_records
from tests.engine.helpers import save_tiny, tiny_adapter
from tests.helpers import build_small

MODE = ScoringMode.OPTION  # the tiny model gets three round-2 contexts right in option mode
LAYER = 2  # 1-based; the tiny LLaVA has two text layers
LAM = 2.0


def _settings(lam: float) -> AmplifySettings:
    return AmplifySettings(first=LAYER, last=LAYER, lam=lam)


def _uncached(adapter: Any, record: Any) -> tuple[Any, list[int]]:
    """The round-2 context run from scratch through the model's own forward, under whatever
    attention is installed (the image-key flags published as the engine does)."""
    turn = Engine(adapter, MODE).run([record])[0].turns[0]
    conv = protocol.conversation(record, [protocol.answer_text(MODE, record, turn)])
    req = ScoreRequest(record.id, record.image, conv, record.letters(), tuple(record.options))
    encoded = adapter.encode_request(req)
    ids = torch.tensor([encoded.input_ids])
    flags = torch.zeros(ids.shape, dtype=torch.bool)
    flags[0, encoded.image_positions] = True
    with torch.no_grad(), forward_image_keys(flags):
        out = adapter.model(input_ids=ids, **adapter.request_image_inputs([req]), output_hidden_states=True,
                            output_attentions=True)
    return out, list(encoded.image_positions)


def _row_by_hand(adapter: Any, layer_input: torch.Tensor, image: list[int], lam: float) -> torch.Tensor:
    """Head-averaged attention of the last position in text layer LAYER, from that layer's input
    hidden states, with eq. 7 written out: e + lam * |e| on the image keys, then the softmax."""
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    lm = adapter.model.model.language_model
    attn = lm.layers[LAYER - 1].self_attn
    n = layer_input.shape[1]
    with torch.no_grad():
        cos, sin = lm.rotary_emb(layer_input, torch.arange(n)[None])
        x = lm.layers[LAYER - 1].input_layernorm(layer_input)
        q = attn.q_proj(x).view(1, n, -1, attn.head_dim).transpose(1, 2)
        k = attn.k_proj(x).view(1, n, -1, attn.head_dim).transpose(1, 2)
        q, k = apply_rotary_pos_emb(q, k, cos, sin)
        k = k.repeat_interleave(q.shape[1] // k.shape[1], dim=1)
        e = (q[:, :, -1:] @ k.transpose(2, 3))[0, :, 0] * attn.scaling  # (heads, keys): the last row
        e[:, image] = e[:, image] + lam * e[:, image].abs()  # the last row comes after the image
        return e.softmax(-1).mean(0)


@pytest.fixture(scope="module")
def captured() -> dict[float | None, Any]:
    adapter = tiny_adapter()
    records = probing_records()
    use_eager_attention(adapter)
    out: dict[float | None, Any] = {"adapter": adapter, "records": records}
    out[None] = collect(adapter, records, MODE, hidden=True, attention=True, batch_size=3, chunk=5)
    for lam in (0.0, LAM):
        with Amplifier(adapter, _settings(lam)):
            out[lam] = collect(adapter, records, MODE, hidden=True, attention=True, batch_size=3, chunk=5)
    return out


@pytest.mark.slow
def test_lambda_zero_is_the_unamplified_analysis_exactly(captured) -> None:  # type: ignore[no-untyped-def]
    base, zero = captured[None], captured[0.0]
    assert np.array_equal(base.labels, zero.labels)
    for name in ("hidden", "image_ratio", "image_mass"):
        assert np.array_equal(getattr(base, name), getattr(zero, name), equal_nan=True), name


def test_captured_attention_is_the_amplified_attention(captured) -> None:  # type: ignore[no-untyped-def]
    adapter, records, base, amplified = captured["adapter"], captured["records"], captured[None], captured[LAM]
    both = base.pushed & amplified.pushed
    assert both.sum() >= 2
    # More image attention in the amplified layer, for every context that got a round 2 both ways.
    assert (amplified.image_mass[both, LAYER - 1] > base.image_mass[both, LAYER - 1]).all()
    assert (amplified.image_ratio[both, LAYER - 1] > base.image_ratio[both, LAYER - 1]).all()
    checked = 0
    with Amplifier(adapter, _settings(LAM)):
        for i, record in enumerate(records):
            if amplified.labels[i] == ROUND1_WRONG:
                continue
            out, image = _uncached(adapter, record)
            for layer, weights in enumerate(out.attentions):
                row = weights[0, :, -1].mean(0)
                is_image = torch.zeros_like(row, dtype=torch.bool)
                is_image[image] = True
                mass = float(row[is_image].sum())
                ratio = float(row[is_image].mean() / row[~is_image].mean())
                assert amplified.image_mass[i, layer] == pytest.approx(mass, abs=1e-5)
                assert amplified.image_ratio[i, layer] == pytest.approx(ratio, rel=1e-4)
            by_hand = _row_by_hand(adapter, out.hidden_states[LAYER - 1], image, LAM)
            assert amplified.image_mass[i, LAYER - 1] == pytest.approx(float(by_hand[image].sum()), abs=1e-5)
            checked += 1
    assert checked >= 2


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("analyze-amp")
    model, data = root / "model", root / "data"
    save_tiny(model)
    sizes = Sizes(questions_per_task=2, probing_train=20, probing_test=20, sft=4, dpo=4)
    build_small(data, sizes=sizes, configs=("probing",))
    return model, data


def _run(*argv: str) -> int:
    return main(["analyze", *argv, "--no-progress", "--n-bootstrap", "20"])


@pytest.mark.slow
def test_cli_amplifies_per_model_and_records_it(folders, tmp_path) -> None:  # type: ignore[no-untyped-def]
    model, data = folders
    out = tmp_path / "out"
    common = ["--model", str(model), "--model", str(model), "--model", str(model),
              "--amplify", "none", "--amplify", "2:0", "--amplify", "2:3",
              "--dataset", str(data), "--out", str(out), "--mode", "letter"]
    assert _run("attention", *common) == 0
    plain, zero, amplified = json.loads((out / "attention.json").read_text())["models"]
    assert plain["amplify"] is None and plain["label"] == "model"
    assert zero["label"] == "model +amp 2-2:0"
    assert amplified["amplify"] == {"first": 2, "last": 2, "lam": 3.0, "queries": "after-image", "spec": "2-2:3",
                                    "text_layers": 2}
    assert zero["ratio"] == plain["ratio"] and zero["image_mass"] == plain["image_mass"]
    assert amplified["image_mass"][1]["value"] > plain["image_mass"][1]["value"]

    assert _run("probe", "--model", str(model), "--amplify", "1-2:0.9", "--amplify-queries", "all", "--label", "amp",
                "--dataset", str(data), "--out", str(out), "--mode", "letter") == 0
    (probe,) = json.loads((out / "probe.json").read_text())["models"]
    assert probe["amplify"]["spec"] == "1-2:0.9" and probe["amplify"]["queries"] == "all"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--amplify", "1-3:0.9"], "layers 1-3 are outside the model's 2 text layers (1-2)"),
        (["--amplify", "1-2"], "expected FIRST-LAST:LAMBDA"),
        (["--amplify", "1:1", "--amplify", "2:1"], "--amplify: 2 given for 1 --model"),
        (["--amplify-queries", "all"], "--amplify-queries needs --amplify"),
        (["--amplify", "1:1", "--adapter", "openai"], "exposes no hidden states or attentions"),
    ],
)
def test_bad_amplify_specs_are_one_line_errors_before_anything_is_written(  # type: ignore[no-untyped-def]
    folders, tmp_path, capsys, argv, message
) -> None:
    model, data = folders
    out = tmp_path / "out"
    for analysis in ("probe", "attention"):
        capsys.readouterr()
        assert _run(analysis, "--model", str(model), "--dataset", str(data), "--out", str(out), *argv) == 2
        err = capsys.readouterr().err
        assert message in " ".join(err.split()) and "Traceback" not in err and err.count("error:") == 1
        assert not out.exists()
