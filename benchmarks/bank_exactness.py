"""How exactly a mixed-task batch of the program bank reproduces each task's own run, on a real LM.

    .venv/bin/python benchmarks/bank_exactness.py            # SmolLM2-135M-Instruct, float32 and float64
    .venv/bin/python benchmarks/bank_exactness.py --model tiny --output /tmp/x.json   # tiny random Llama

One batch of 16 sentences whose rows belong to 7 tasks on one frozen causal LM: soft prompts of
lengths 1, 3 (inserted after the first token) and 6, key/value prefixes of 2 and 4 positions, a soft
prompt of 2 with a prefix of 3, and a task with neither. Every task reads f's full next-token logits
(an identity index mapping over the vocabulary), so the comparison covers every logit. Per dtype:

- ``mixed_vs_own``: max over rows and logits |bank row − the same row from its task's own
  Reprogrammer, run on that task's rows alone| (the issue's criterion);
- ``own_alone_vs_own_block``: max |a task's row run alone (batch of 1) − that row in the task's own
  block| — the same Reprogrammer, only the batch composition (padding length, batch size) differs.

If the first is of the size of the second, the mixed batch's residue is floating-point reduction
order (how the kernels sum over a longer key axis / a larger batch), not a masking or position defect;
a defect would show in float64 too, where reduction order leaves only ~1e-13 on logits of size ~10.

transformers' Llama computes the rotary cos/sin in float32 whatever the model's dtype (then casts), so a
"float64" Llama still carries float32 rounding that depends on the batch's shape. ``float64`` is the
stock model; ``float64_rope64`` also computes the rotary tables in float64 (:func:`float64_rotary`),
which leaves only float64 rounding.
Writes ``benchmarks/results/bank_exactness.json`` (machine, versions, seed).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import sys
import time
import types
from pathlib import Path
from typing import Any, Iterator

import torch
from torch import Tensor, nn

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
SEED = 0
TEXTS = [
    "The movie was great . It was",
    "Bad film . It was",
    "A very long sentence about nothing in particular , going on and on . It was",
    "Ok . It was",
    "Terrible acting and a bad plot . It was",
    "Fine . It was",
    "Great",
    "The plot was fine but the acting was terrible . It was",
]


def build_tasks(frozen: Any, dtype: torch.dtype, seed: int = SEED) -> dict[str, Any]:
    """Seven tasks on ``frozen``: soft prompts (initialised from embedding rows) and key/value prefixes of
    different lengths, all reading the full logits."""
    from reprogrammability.framework import Reprogrammer
    from reprogrammability.framework.alignment import IndexMapping
    from reprogrammability.implementations.prompt_tuning.instruction_search import InstructionPrompt
    from reprogrammability.implementations.prompt_tuning.prefix import KeyValuePrompt
    from reprogrammability.implementations.prompt_tuning.soft_prompt import SoftPrompt

    model = frozen.model
    vocab = int(model.config.vocab_size)
    geometry = frozen.adapter.attention_geometry(model)
    table = model.get_input_embeddings().weight.detach().float()
    generator = torch.Generator().manual_seed(seed)

    def prompt(length: int, position: int = 0) -> SoftPrompt:
        rows = torch.randint(0, table.shape[0], (length,), generator=generator)
        return SoftPrompt(table[rows].clone(), position=position)

    def prefix(length: int) -> KeyValuePrompt:
        return KeyValuePrompt(geometry, length, generator=generator)

    def task(inputs: Any) -> Any:
        return Reprogrammer(frozen, inputs, IndexMapping.first_k(vocab), paradigm="prompt-tuning")

    tasks = {
        "soft_1": task(prompt(1)),
        "soft_3_at_1": task(prompt(3, position=1)),
        "soft_6": task(prompt(6)),
        "prefix_2": task(prefix(2)),
        "prefix_4": task(prefix(4)),
        "soft_2_prefix_3": task([prompt(2), prefix(3)]),
        "plain": task(InstructionPrompt(frozen.adapter.tokenizer, "Review:")),
    }
    return {name: program.to(dtype) for name, program in tasks.items()}


@contextlib.contextmanager
def float64_rotary(model: nn.Module) -> Iterator[int]:
    """Within the block, ``model``'s rotary-embedding modules (transformers' ``*RotaryEmbedding``: ``inv_freq``,
    ``attention_scaling``) compute cos/sin in float64; yields how many were patched (instances only)."""

    def forward(self: nn.Module, x: Tensor, position_ids: Tensor) -> tuple[Tensor, Tensor]:
        inv_freq = self.inv_freq.to(device=x.device, dtype=torch.float64)  # type: ignore[union-attr]
        freqs = position_ids[..., None].to(torch.float64) * inv_freq
        angles = torch.cat((freqs, freqs), dim=-1)
        scale = self.attention_scaling
        return (angles.cos() * scale).to(x.dtype), (angles.sin() * scale).to(x.dtype)

    patched = [
        m
        for m in model.modules()
        if type(m).__name__.endswith("RotaryEmbedding") and hasattr(m, "inv_freq") and hasattr(m, "attention_scaling")
    ]
    for module in patched:
        module.forward = types.MethodType(forward, module)  # type: ignore[method-assign]
    try:
        yield len(patched)
    finally:
        for module in patched:
            del module.forward


def measure(model: Any, tokenizer: Any, dtype: torch.dtype, rows: int = 16, rope64: bool = False) -> dict[str, Any]:
    """The two differences above for ``model`` cast to ``dtype`` (in place), one mixed batch of ``rows``;
    ``rope64``: with :func:`float64_rotary`."""
    if rope64:
        with float64_rotary(model) as patched:
            if not patched:
                raise ValueError("rope64: the model has no rotary-embedding module to compute in float64")
            result = measure(model, tokenizer, dtype, rows)
        return {**result, "dtype": result["dtype"] + "_rope64"}
    from reprogrammability.framework import FrozenModel
    from reprogrammability.implementations.serving import ProgramBank

    model = model.to(dtype)
    frozen = FrozenModel(model, tokenizer=tokenizer, readout="last")
    bank = ProgramBank(frozen)
    for name, program in build_tasks(frozen, dtype).items():
        bank.add(name, program)
    names = [bank.tasks[(3 * i) % len(bank.tasks)] for i in range(rows)]
    texts = [TEXTS[i % len(TEXTS)] for i in range(rows)]
    calls: list[int] = []
    handle = model.register_forward_hook(lambda *_: calls.append(1))
    with torch.no_grad():
        mixed = bank.predict(texts, names)
    handle.remove()
    worst_mixed, worst_alone, scale = 0.0, 0.0, 0.0
    per_task = {}
    with torch.no_grad():
        for name in bank.tasks:
            index = [i for i, n in enumerate(names) if n == name]
            program = bank[name].program
            own = program([texts[i] for i in index])
            alone = torch.cat([program([texts[i]]) for i in index])
            assert own.dtype == dtype and all(mixed[i].dtype == dtype for i in index)
            difference = max(float((mixed[i] - row).abs().max()) for i, row in zip(index, own))
            per_task[name] = difference
            worst_mixed = max(worst_mixed, difference)
            worst_alone = max(worst_alone, float((alone - own).abs().max()))
            scale = max(scale, float(own.abs().max()))
    bank.assert_frozen()
    return {
        "dtype": str(dtype).replace("torch.", ""),
        "forwards_of_f": len(calls),
        "mixed_vs_own": worst_mixed,
        "mixed_vs_own_per_task": per_task,
        "own_alone_vs_own_block": worst_alone,
        "largest_logit": scale,
    }


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("smollm2", "tiny"), default="smollm2")
    parser.add_argument("--output", type=Path, default=RESULTS / "bank_exactness.json")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)
    start = time.time()
    if args.model == "tiny":
        from reprogrammability.implementations.models.tiny import tiny_causal_lm, tiny_tokenizer

        model, tokenizer, label = tiny_causal_lm("llama"), tiny_tokenizer(style="causal"), "tiny random llama (tests)"
    else:
        from reprogrammability.implementations.models.pretrained import load_smollm2

        (model, tokenizer), label = load_smollm2(), "SmolLM2-135M-Instruct"
    results = [measure(model, tokenizer, dtype) for dtype in (torch.float32, torch.float64)]
    results.append(measure(model, tokenizer, torch.float64, rope64=True))
    import transformers

    report = {
        "model": label,
        "rows": 16,
        "tasks": list(results[0]["mixed_vs_own_per_task"]),
        "seed": SEED,
        "results": {r["dtype"]: r for r in results},
        "machine": {
            "platform": platform.platform(),
            "python": sys.version.split()[0],
            "threads": torch.get_num_threads(),
        },
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
        "seconds": round(time.time() - start, 1),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    for r in results:
        print(
            f"{r['dtype']}: mixed vs own {r['mixed_vs_own']:.2e}, own alone vs own block {r['own_alone_vs_own_block']:.2e}"
            f" (largest logit {r['largest_logit']:.1f}, {r['forwards_of_f']} forward of f)"
        )
    return args.output


if __name__ == "__main__":
    main()
