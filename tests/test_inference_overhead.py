"""The cost model: every part declares its inference overhead against bare f, and the declaration matches a count.

FLOPs follow torch's FlopCounterMode (2·m·n·k per matmul); the figures below are computed by hand from the shapes.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import sympy as sp
import torch
from torch import nn

from reprogrammability.cli import main
from reprogrammability.framework import (
    Configuration,
    InputManipulation,
    LinearAlignment,
    Location,
    Operator,
    Reprogrammer,
    SymbolicForm,
)
from reprogrammability.framework.cost import (
    InferenceOverhead,
    OverheadContext,
    UndeclaredOverheadError,
    judge_overhead,
    measure_inference_overhead,
)
from reprogrammability.framework.symbolic import symbols, x
from reprogrammability.framework.validation.cost import inference_overhead as overhead_check
from reprogrammability.implementations.prompt_tuning.soft_prompt import SoftPrompt
from reprogrammability.implementations.registry import get_method


def _mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 10))


class _Shift(InputManipulation):
    """x + δ, declaring nothing about its cost."""

    configuration, operator, location = Configuration.LEARNABLE, Operator.ADDITIVE, Location.INPUT

    def __init__(self) -> None:
        super().__init__()
        self.delta = nn.Parameter(torch.zeros(6))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return inputs + self.delta

    def symbolic(self) -> SymbolicForm:
        (d,) = symbols("d")
        return SymbolicForm(x + sp.Symbol("delta"), d, {d: 6})


class _DeclaredShift(_Shift):
    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        (d,) = symbols("d")
        return InferenceOverhead(elementwise=d, shapes={d: 6})


def test_overhead_evaluates_adds_and_renders():
    p, d = symbols("p d")
    a = InferenceOverhead(tokens=p, flops=2 * p * d, shapes={p: 4, d: 32})
    b = InferenceOverhead(flops=3 * d, elementwise=d, shapes={d: 32})
    total = a + b
    assert total.evaluate() == {"tokens": 4, "keys": 0, "flops": 2 * 4 * 32 + 3 * 32, "elementwise": 32}
    assert "flops" in total.latex() and r"\Delta_{\mathrm{tok}} = p" in total.summary_latex()
    with pytest.raises(ValueError, match="different values"):
        a + InferenceOverhead(flops=d, shapes={d: 64})
    with pytest.raises(ValueError, match="no value for shape symbol"):
        InferenceOverhead(flops=p).evaluate()


def test_a_part_without_a_declaration_fails_and_is_named():
    rp = Reprogrammer(_mlp(), _Shift(), LinearAlignment(10, 3), paradigm="model-reprogramming")
    with pytest.raises(UndeclaredOverheadError, match="_Shift.inference_overhead: not declared"):
        measure_inference_overhead(rp, torch.randn(4, 6), repeats=0)
    status, reason = overhead_check(SimpleNamespace(rp=rp, x1=torch.randn(4, 6)))
    assert status == "failed" and "_Shift" in reason


def test_linear_head_overhead_is_its_matmul_and_f_is_untouched():
    rp = Reprogrammer(_mlp(), _DeclaredShift(), LinearAlignment(10, 3), paradigm="model-reprogramming")
    before = rp.frozen.fingerprint()
    measured = measure_inference_overhead(rp, torch.randn(4, 6), repeats=1)
    # bare f: 2·(6·16 + 16·10) = 512 FLOPs per query; the head adds 2·10·3 = 60, the shift only element-wise work
    assert measured["bare_flops"] == 512
    assert measured["extra_flops"] == 60 == measured["symbolic_extra_flops"]
    assert measured["symbolic_elementwise"] == 6 + 3  # δ added to 6 inputs, 3 bias additions
    assert measured["extra_tokens"] == 0 == measured["symbolic_extra_tokens"]
    assert measured["extra_time_ratio"] > 0
    assert judge_overhead(measured)[0] == "passed"
    assert rp.frozen.fingerprint() == before
    assert all(p.grad is None and not p.requires_grad for p in rp.frozen.model.parameters())


def test_soft_prompt_costs_its_positions_and_attention():
    rp, inputs, _ = get_method("prompt-tuning").example()
    measured = measure_inference_overhead(rp, inputs, repeats=0)
    shapes = measured["shapes"]
    n, W, d_a, L = shapes["n_f"], shapes["W_f"], shapes["d_a"], shapes["L"]
    p = rp.manipulations[0].length
    by_hand = 2 * p * W + 4 * n * d_a * ((L + p) ** 2 - L**2)
    assert measured["extra_tokens"] == p == measured["symbolic_extra_tokens"]
    assert measured["extra_flops"] == by_hand == measured["symbolic_extra_flops"]


def test_prefix_costs_keys_not_positions():
    rp, inputs, _ = get_method("prefix-tuning").example()
    measured = measure_inference_overhead(rp, inputs, repeats=0)
    assert measured["extra_tokens"] == 0 == measured["symbolic_extra_tokens"]
    assert measured["symbolic_extra_keys"] == rp.manipulations[0].length
    assert measured["extra_flops"] > 0
    assert abs(measured["symbolic_extra_flops"] - measured["extra_flops"]) <= 0.05 * measured["extra_flops"]


def test_a_wrong_declaration_fails():
    class HalfCountedPrompt(SoftPrompt):
        def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
            (length,) = symbols("L_p")
            return context.extra_positions(length, {length: self.length // 2})

    rp, inputs, _ = get_method("prompt-tuning").example()
    wrong = HalfCountedPrompt(rp.manipulations[0].prompt.detach())
    rp = Reprogrammer(rp.frozen, wrong, rp.output, paradigm="prompt-tuning")
    status, reason = judge_overhead(measure_inference_overhead(rp, inputs, repeats=0))
    assert status == "failed" and "differ by more than 5%" in reason


def test_padding_program_adds_no_f_flops():
    rp, inputs, _ = get_method("blm").example()
    measured = measure_inference_overhead(rp, inputs, repeats=0)
    head = 2 * rp.output.num_source * rp.output.num_target  # z ω, the Bayesian label mapping's matmul
    assert measured["extra_flops"] == head == measured["symbolic_extra_flops"]
    channels, (height, width) = rp.manipulations[0].channels, rp.manipulations[0].canvas
    assert measured["symbolic_elementwise"] == 3 * channels * height * width


def test_nnr_cost_command(tmp_path, capsys):
    out = tmp_path / "overhead.json"
    assert main(["cost", "blm", "--repeats", "0", "--output", str(out)]) == 0
    assert '"passed": 1' in out.read_text()
    assert main(["cost", "no-such-method"]) == 2
    assert "unknown method id" in capsys.readouterr().err


def test_a_generating_f_pays_an_exemplar_prefix_in_the_prefill_and_every_decode_step():
    rp, questions, _ = get_method("chain-of-thought").example()
    measured = measure_inference_overhead(rp, questions, repeats=0)
    shapes = measured["shapes"]
    n, W, d_a, L, G = shapes["n_f"], shapes["W_f"], shapes["d_a"], shapes["L"], shapes["G"]
    assert G == rp.frozen.adapter.max_new_tokens - 1  # one prefill, then one-position steps over the cache
    c = measured["extra_tokens"]  # the exemplars' tokens, added to every prompt
    prompt = L - G
    by_hand = 2 * c * W + 4 * n * d_a * ((prompt + c) ** 2 - prompt**2 + G * c)
    assert c > 0 and measured["extra_flops"] == by_hand == measured["symbolic_extra_flops"]
    assert measured["symbolic_extra_tokens"] == c


def test_a_series_is_measured_against_f_on_the_tokens_its_entry_part_makes():
    rp, series, _ = get_method("time-llm").example()
    measured = measure_inference_overhead(rp, series, repeats=0)
    assert "PatchReprogramming" in measured["reference"]
    shapes = measured["shapes"]
    n, W, d_a, L, R = shapes["n_f"], shapes["W_f"], shapes["d_a"], shapes["L"], shapes["R"]
    # bare f: the language model's body on the L patch tokens alone, the patch reprogramming's own FLOPs left out
    assert measured["bare_flops"] == 2 * W * L + 4 * n * d_a * L**2 / R
    assert judge_overhead(measured)[0] == "passed"
    assert measured["extra_tokens"] == rp.manipulations[1].last_length * R  # the statistics prompt, padded
