"""In-context learning: the shared-prefix key/value cache against re-encoding the demonstrations."""

from __future__ import annotations

from typing import Any

from ..fixtures import tiny_llama
from ..settings import Settings
from ..suite import Ratio, Suite, Target, make_ratio
from ..timing import Clock, interleaved, paired_ratio

TARGETS: dict[str, Target] = {
    "icl.speedup_k0": (">=", None, "ICL k=0: re-encoding time / shared-prefix cache time"),
    "icl.speedup_k4": (">=", None, "ICL k=4: re-encoding time / shared-prefix cache time"),
    "icl.speedup_k8": (">=", 3.0, "ICL k=8: re-encoding time / shared-prefix cache time"),
}


def suite_icl(s: Settings, device, clock: Clock, log, real: bool = False) -> tuple[list[Ratio], dict[str, Any]]:
    """In-context learning with the shared-prefix key/value cache vs re-encoding the demonstrations for every
    query (implementations.prompt_instruction), the same queries and prompts; the cache is cleared before each
    timed run, so the cached time includes encoding the prefix."""
    import torch

    from reprogrammability.implementations.data.text import load_text_task
    from reprogrammability.implementations.models.tiny import tiny_tokenizer
    from reprogrammability.implementations.prompt_instruction import in_context_learning

    if real:
        from reprogrammability.implementations.models.pretrained import load_smollm2

        model, tokenizer = load_smollm2()
        template = {"input_template": "Review: {text}\nSentiment:", "label_words": ["negative", "positive"]}
    else:
        model, tokenizer = tiny_llama(s), tiny_tokenizer(style="causal")
        template = {"input_template": "review : {text} sentiment :", "label_words": ["negative", "positive"]}
    model = model.to(device)
    train, test = load_text_task("sentiment", "train"), load_text_task("sentiment", "test")
    queries = list(test.inputs[: s.icl_queries])
    ratios: list[Ratio] = []
    details: dict[str, Any] = {
        "model": "SmolLM2-135M-Instruct" if real else f"Llama-like, hidden {s.lm_hidden}, {s.lm_layers} layers",
        "queries": len(queries),
        "batch": s.icl_batch,
        "k": {},
    }
    for k in s.icl_ks:
        built = {}
        for use_cache in (True, False):
            built[use_cache] = in_context_learning.build(
                model,
                tokenizer=tokenizer,
                pool=(train.inputs, train.labels.tolist()),
                k=k,
                seed=0,
                balanced=True,
                use_cache=use_cache,
                batch_size=s.icl_batch,
                continuation="first",
                **template,
            )

        def run(use_cache: bool):
            reprogrammer = built[use_cache]

            def go() -> tuple[float, float]:
                reprogrammer.frozen.adapter.clear_cache()
                start = clock.now()
                with torch.no_grad():
                    z = torch.cat(
                        [
                            reprogrammer.source_outputs(queries[i : i + s.icl_batch])
                            for i in range(0, len(queries), s.icl_batch)
                        ]
                    )
                end = clock.now()
                run.scores[use_cache] = z  # type: ignore[attr-defined]
                return end[0] - start[0], end[1] - start[1]

            return go

        run.scores = {}  # type: ignore[attr-defined]
        log(f"icl: k = {k}")
        times = interleaved({"cached": run(True), "reencode": run(False)}, s.icl_rounds, s.warmup, log)
        difference = float((run.scores[True] - run.scores[False]).abs().max())  # type: ignore[attr-defined]
        prompt = built[True].inputs[0](queries[:1])
        prefix_tokens = len(tokenizer(prompt.prefixes[0])["input_ids"]) if prompt.prefixes[0] else 0
        query_tokens = len(tokenizer(prompt.queries[0])["input_ids"])
        name = f"icl.speedup_k{k}"
        measured = paired_ratio(clock, times, "reencode", "cached")
        extra = {
            **measured.pop("extra"),
            "prefix_tokens": prefix_tokens,
            "query_tokens": query_tokens,
            "max_abs_score_difference": difference,
        }
        if name in TARGETS:
            ratios.append(make_ratio(TARGETS, name, **measured, extra=extra))
        details["k"][str(k)] = {**extra, "times": times}
    return ratios, details


SUITE = Suite(
    "icl",
    order=40,
    targets=TARGETS,
    run=lambda c: suite_icl(c.settings, c.device, c.clock, c.log, real=c.real),
)
