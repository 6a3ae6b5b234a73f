"""Our prompt tuning and prefix tuning against peft's: step time and peak step memory."""

from __future__ import annotations

import statistics
from typing import Any

from ..fixtures import tiny_llama
from ..settings import Settings
from ..suite import Ratio, Suite, Target, make_ratio
from ..timing import Clock, interleaved, paired_ratio, peak_step_memory, per_step

TARGETS: dict[str, Target] = {
    "prompt.prompt_tuning.time/peft": ("<=", 1.00, "prompt tuning step time, ours / peft"),
    "prompt.prompt_tuning.memory/peft": ("<=", 1.00, "prompt tuning peak step memory, ours / peft"),
    "prompt.prefix_tuning.time/peft": ("<=", 1.00, "prefix tuning step time, ours / peft"),
    "prompt.prefix_tuning.memory/peft": ("<=", 1.00, "prefix tuning peak step memory, ours / peft"),
}


def suite_prompt(s: Settings, device, clock: Clock, log, real: bool = False) -> tuple[list[Ratio], dict[str, Any]]:
    """Our prompt tuning and prefix tuning (implementations.prompt_tuning) against peft's, same model and batch:
    the same prompt weights are copied into both, the scores are checked equal, then one training step
    (forward, verbalised cross-entropy at the last token, backward, Adam) is timed and its peak memory taken."""
    import torch
    import torch.nn.functional as F

    try:
        from peft import PrefixTuningConfig, PromptTuningConfig, get_peft_model
    except ImportError:  # pragma: no cover - peft is a test dependency
        log("prompt: peft is not installed; skipped")
        return [], {"skipped": "peft is not installed"}
    from reprogrammability.implementations.models.tiny import tiny_tokenizer
    from reprogrammability.implementations.prompt_tuning import prefix_tuning, prompt_tuning

    if real:
        from reprogrammability.implementations.models.pretrained import load_smollm2

        def fresh_model():
            return load_smollm2()

        words = ["negative", "positive"]
    else:

        def fresh_model():
            return tiny_llama(s).to(device), tiny_tokenizer(style="causal")

        words = ["bad", "good"]
    model, tokenizer = fresh_model()
    vocab = model.config.vocab_size
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(7, min(vocab, 30000), (s.lm_batch, s.lm_length), generator=g)
    mask = torch.ones_like(ids)
    mask[0, -max(1, s.lm_length // 4) :] = 0  # one padded row
    ids[mask == 0] = tokenizer.pad_token_id or 0
    batch = {"input_ids": ids.to(device), "attention_mask": mask.to(device)}
    labels = (torch.arange(s.lm_batch) % 2).to(device)
    last = batch["attention_mask"].sum(1) - 1
    rows = torch.arange(s.lm_batch, device=device)
    P = s.virtual_tokens
    ratios: list[Ratio] = []
    details: dict[str, Any] = {
        "model": "SmolLM2-135M-Instruct"
        if real
        else f"Llama-like, hidden {s.lm_hidden}, {s.lm_layers} layers, vocab {vocab}",
        "batch": s.lm_batch,
        "length": s.lm_length,
        "virtual_tokens": P,
    }
    for method in ("prompt_tuning", "prefix_tuning"):
        if method != "prompt_tuning":
            model, tokenizer = fresh_model()
        model = model.to(device)
        config: Any
        if method == "prompt_tuning":
            config = PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=P)
        else:
            config = PrefixTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=P, prefix_projection=False)
        peft_model: Any = get_peft_model(model, config).to(device)
        theirs = peft_model.prompt_encoder["default"].embedding.weight
        with torch.no_grad():
            theirs.normal_(0, 0.1, generator=torch.Generator().manual_seed(1))
        base = peft_model.get_base_model()
        if method == "prompt_tuning":
            ours = prompt_tuning.build(
                base, tokenizer=tokenizer, label_words=words, num_virtual_tokens=P, init="normal"
            )
            part, offset = ours.inputs[0], P
            with torch.no_grad():
                part.prompt.copy_(theirs)
        else:
            ours = prefix_tuning.build(
                base, tokenizer=tokenizer, label_words=words, num_virtual_tokens=P, reparameterize=False
            )
            part, offset = ours.inputs[0], 0
            with torch.no_grad():
                part.prefix.copy_(theirs)
        ours = ours.to(device)
        align = ours.output

        def peft_scores():
            return align(peft_model(**batch).logits[rows, offset + last])

        peft_model.train()  # as fine-tuning runs it (dropout is 0 in these models)
        with torch.no_grad():
            difference = float((peft_scores() - ours(batch)).abs().max())
        ours_optimizer = torch.optim.Adam([p for p in ours.parameters() if p.requires_grad], lr=1e-3)
        peft_optimizer = torch.optim.Adam([p for p in peft_model.parameters() if p.requires_grad], lr=1e-3)

        def ours_step():
            ours_optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(ours(batch).float(), labels).backward()
            ours_optimizer.step()

        def peft_step():
            peft_optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(peft_scores().float(), labels).backward()
            peft_optimizer.step()

        log(f"prompt: {method} (max |Δscore| ours vs peft before training: {difference:.1e})")
        times = interleaved(
            {"ours": lambda: per_step(clock, ours_step, 1), "peft": lambda: per_step(clock, peft_step, 1)},
            s.lm_pairs,
            s.warmup,
            log,
        )
        memory = {}
        for name, step in (("ours", ours_step), ("peft", peft_step)):
            step()  # the optimiser state exists; the previous step's gradients are freed inside the step
            memory[name] = statistics.median(peak_step_memory(step, device) for _ in range(3))
        ratios.append(make_ratio(TARGETS, f"prompt.{method}.time/peft", **paired_ratio(clock, times, "ours", "peft")))
        ratios.append(
            make_ratio(
                TARGETS,
                f"prompt.{method}.memory/peft",
                memory["ours"] / max(memory["peft"], 1.0),
                numerator_s=None,
                denominator_s=None,
                extra={"ours_bytes": memory["ours"], "peft_bytes": memory["peft"]},
            )
        )
        details[method] = {
            "max_abs_score_difference": difference,
            "peak_step_bytes": memory,
            "times": times,
            "trainable_parameters": ours.parameter_count(),
        }
        ours.frozen.assert_unchanged()
    return ratios, details


SUITE = Suite(
    "prompt",
    order=30,
    targets=TARGETS,
    run=lambda c: suite_prompt(c.settings, c.device, c.clock, c.log, real=c.real),
)
