"""Serving N tasks from one frozen model (:class:`~reprogrammability.implementations.serving.ProgramBank`):
memory against N fine-tuned copies and against one base + N LoRA adapters (peft), and the throughput of a
mixed-task batch against a single-task batch of the same size."""

from __future__ import annotations

from typing import Any

from ..fixtures import padding_flm, random_images, vision_model
from ..settings import Settings
from ..suite import Ratio, Suite, Target, make_ratio
from ..timing import Clock, interleaved, paired_ratio, per_step

TARGETS: dict[str, Target] = {
    "serving.mixed16/single": (
        ">=",
        0.90,
        "throughput of a batch mixing 16 tasks / throughput of a one-task batch of the same size",
    ),
    "serving.memory64/(f+programs)": (
        "<=",
        1.1,
        "bytes held by a bank of 64 tasks (distinct storages) / (bytes of f + 64 programs' bytes)",
    ),
    # informative, no target
    "serving.mixed16-lengths/single": (
        ">=",
        None,
        "throughput of a batch mixing 16 soft-prompt tasks of 16 prompt lengths (one padded, per-row-masked "
        "forward of a Llama-like LM) / a one-task batch of the same size with the longest prompt",
    ),
    "serving.finetuned64/bank64": ("<=", None, "64 fine-tuned copies of f / a bank of 64 tasks (bytes)"),
    "serving.lora64/bank64": ("<=", None, "one base + 64 LoRA adapters (peft) / a bank of 64 tasks (bytes)"),
}

TASK_COUNTS = (1, 4, 16, 64)
MIXED_TASKS = 16
LORA_RANK = {"default": 8, "quick": 8, "tiny": 4}


def distinct_bytes(tensors) -> int:
    """Bytes of the distinct storages behind ``tensors`` (a tensor shared by many holders counts once)."""
    seen: dict[int, int] = {}
    for tensor in tensors:
        storage = tensor.untyped_storage()
        seen[storage.data_ptr()] = storage.nbytes()
    return sum(seen.values())


def _lora_bytes(net, counts: tuple[int, ...], rank: int) -> tuple[dict[int, int], int]:
    """Bytes of one base + N LoRA adapters in peft for each N of ``counts`` (measured as adapters are added),
    and of one adapter; LoRA on the 1×1 convolutions and linear layers of a deep copy of ``net``."""
    import copy

    from peft import LoraConfig, get_peft_model
    from torch import nn

    base = copy.deepcopy(net)
    names = [
        n
        for n, m in base.named_modules()
        if type(m) is nn.Linear or (type(m) is nn.Conv2d and m.kernel_size == (1, 1) and m.groups == 1)
    ]
    config = LoraConfig(r=rank, lora_alpha=rank, target_modules=names)
    model = get_peft_model(base, config, adapter_name="task0")
    measured = {}
    for index in range(1, max(counts) + 1):
        if index in counts:
            measured[index] = distinct_bytes(list(model.parameters()) + list(model.buffers()))
        if index < max(counts):
            model.add_adapter(f"task{index}", config)
    adapter = sum(p.numel() * p.element_size() for n, p in model.named_parameters() if ".task0." in n)
    return measured, adapter


def suite_serving(s: Settings, device, clock: Clock, log) -> tuple[list[Ratio], dict[str, Any]]:
    """Memory of banks of N = 1, 4, 16, 64 padding-program + FLM tasks on one f (distinct tensor storages
    of f and every task's program) against N fine-tuned copies of f and one base + N LoRA adapters; then
    one step of ``bank.predict`` on a batch whose rows belong to 16 tasks against the same batch of one task."""
    import torch

    from reprogrammability.framework import FrozenModel
    from reprogrammability.implementations.serving import ProgramBank

    net, num_source = vision_model(s)
    frozen = FrozenModel(net.to(device))
    f_bytes = distinct_bytes([t for _, t in frozen._tensors()])
    memory: dict[str, dict[str, int]] = {}
    bank = ProgramBank(frozen)
    images, labels = random_images(8 * s.classes, s.image, s.classes)
    for count in TASK_COUNTS:
        while len(bank) < count:
            program = padding_flm(frozen, s, num_source).to(device)
            with torch.no_grad():
                program.output.fit(program.source_outputs(images.to(device)), labels.to(device))
            bank.add(f"task{len(bank)}", program)
        holders = [t for _, t in frozen._tensors()]
        for name in bank.tasks:
            program = bank[name].program
            holders += list(program.parameters()) + list(program.buffers())
            holders += [t for _, t in program.frozen._tensors()]
        memory[str(count)] = {
            "bank_bytes": distinct_bytes(holders),
            "f_bytes": f_bytes,
            "programs_bytes": bank.program_bytes(),
            "finetuned_copies_bytes": count * f_bytes,
        }
    rank = LORA_RANK[s.mode]
    lora, lora_adapter = _lora_bytes(net, TASK_COUNTS, rank)
    last = memory[str(TASK_COUNTS[-1])]
    for count in TASK_COUNTS:
        memory[str(count)]["lora_bytes"] = lora[count]
    log(f"serving: f {f_bytes / 1e6:.2f} MB, one program {last['programs_bytes'] / TASK_COUNTS[-1] / 1e3:.1f} kB")

    batch = max(MIXED_TASKS, s.batch)
    x = torch.rand(batch, 3, min(s.image, s.canvas), min(s.image, s.canvas), generator=torch.Generator().manual_seed(1))
    x = x.to(device)
    mixed = [f"task{i % MIXED_TASKS}" for i in range(batch)]
    single = ["task0"] * batch
    repeats = max(1, s.pairs // 5)
    times = interleaved(
        {
            "mixed": lambda: per_step(clock, lambda: bank.predict(x, mixed), repeats),
            "single": lambda: per_step(clock, lambda: bank.predict(x, single), repeats),
        },
        max(3, s.pairs // 2),
        s.warmup,
        log,
    )
    measured = paired_ratio(clock, times, "single", "mixed")  # time(single)/time(mixed) = throughput ratio
    measured["extra"].update(batch=batch, tasks_in_mixed_batch=MIXED_TASKS, passes=len(bank.plan(x, mixed).passes))
    ratios = [
        make_ratio(TARGETS, "serving.mixed16/single", **measured),
        make_ratio(
            TARGETS,
            "serving.memory64/(f+programs)",
            last["bank_bytes"] / (last["f_bytes"] + last["programs_bytes"]),
            extra=dict(last),
        ),
        make_ratio(TARGETS, "serving.finetuned64/bank64", last["finetuned_copies_bytes"] / last["bank_bytes"]),
        make_ratio(
            TARGETS,
            "serving.lora64/bank64",
            last["lora_bytes"] / last["bank_bytes"],
            extra={"lora_rank": rank, "lora_adapter_bytes": lora_adapter},
        ),
    ]
    bank.assert_frozen()
    lengths_measured, lengths_details = _mixed_lengths(s, device, clock, log)
    ratios.append(make_ratio(TARGETS, "serving.mixed16-lengths/single", **lengths_measured))
    details = {
        "task_counts": list(TASK_COUNTS),
        "memory": memory,
        "lora_rank": rank,
        "lora_adapter_bytes": lora_adapter,
        "mixed_batch": batch,
        "times": times,
        "mixed_lengths": lengths_details,
    }
    return ratios, details


def _mixed_lengths(s: Settings, device, clock: Clock, log) -> tuple[dict[str, Any], dict[str, Any]]:
    """16 soft-prompt tasks with prompt lengths 1 … 16 (scaled to the mode's ``virtual_tokens``) on the mode's
    Llama-like LM: ``bank.predict`` on a batch mixing all of them (one forward, rows right-padded to the longest
    prompt and masked) against the same batch of the longest-prompt task alone."""
    import torch

    from reprogrammability.framework import FrozenModel, Reprogrammer
    from reprogrammability.framework.alignment import IndexMapping
    from reprogrammability.implementations.prompt_tuning.soft_prompt import SoftPrompt
    from reprogrammability.implementations.serving import ProgramBank

    from ..fixtures import tiny_llama

    model = tiny_llama(s).to(device)
    frozen = FrozenModel(model, readout="last")
    generator = torch.Generator().manual_seed(2)
    lengths = [max(1, round(s.virtual_tokens * (k + 1) / MIXED_TASKS)) for k in range(MIXED_TASKS)]
    bank = ProgramBank(frozen)
    for k, length in enumerate(lengths):
        prompt = SoftPrompt(torch.randn(length, s.lm_hidden, generator=generator))
        program = Reprogrammer(frozen, prompt, IndexMapping.first_k(4), paradigm="prompt-tuning").to(device)
        bank.add(f"prompt{k}", program)
    batch = max(MIXED_TASKS, s.lm_batch)
    vocab = model.config.vocab_size
    x = torch.randint(7, vocab, (batch, s.lm_length), generator=generator).to(device)
    mixed = [f"prompt{i % MIXED_TASKS}" for i in range(batch)]
    longest = [f"prompt{MIXED_TASKS - 1}"] * batch
    repeats = max(1, s.lm_pairs // 5)
    times = interleaved(
        {
            "mixed": lambda: per_step(clock, lambda: bank.predict(x, mixed), repeats),
            "single": lambda: per_step(clock, lambda: bank.predict(x, longest), repeats),
        },
        max(3, s.lm_pairs // 2),
        s.warmup,
        log,
    )
    measured = paired_ratio(clock, times, "single", "mixed")
    passes = len(bank.plan(x, mixed).passes)
    measured["extra"].update(batch=batch, prompt_lengths=lengths, passes=passes)
    bank.assert_frozen()
    return measured, {"prompt_lengths": lengths, "batch": batch, "passes": passes, "times": times}


def notes(report: dict[str, Any]) -> list[str]:
    memory = report.get("suites", {}).get("serving", {}).get("memory", {})
    lines = []
    for count, row in memory.items():
        lines.append(
            f"{count} task(s): bank {row['bank_bytes'] / 1e6:.2f} MB, {count} fine-tuned copies "
            f"{row['finetuned_copies_bytes'] / 1e6:.2f} MB, base + {count} LoRA adapters {row['lora_bytes'] / 1e6:.2f} MB."
        )
    return lines


SUITE = Suite(
    "serving",
    order=60,
    targets=TARGETS,
    notes=notes,
    run=lambda c: suite_serving(c.settings, c.device, c.clock, c.log),
)
