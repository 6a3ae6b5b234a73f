"""The models, data and loaders the suites share (built lazily: importing this module imports no torch)."""

from __future__ import annotations

from typing import Any, Callable

from .settings import Settings
from .timing import Clock


def vision_model(s: Settings):
    if s.vision_model == "efficientnet_lite0":
        from reprogrammability.implementations.models.efficientnet_lite import efficientnet_lite0

        return efficientnet_lite0(pretrained=False), 1000
    from reprogrammability.implementations.models.tiny import tiny_cnn

    return tiny_cnn(seed=0), 10


def mean_std(s: Settings):
    if s.vision_model == "efficientnet_lite0":
        from reprogrammability.implementations.models.efficientnet_lite import IMAGENET_MEAN, IMAGENET_STD

        return IMAGENET_MEAN, IMAGENET_STD
    return (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


def padding_flm(net, s: Settings, num_source: int, canvas: int | None = None, output=None):
    from reprogrammability.framework import FrozenModel, Reprogrammer
    from reprogrammability.implementations.reprogramming.label_mapping import FrequencyLabelMapping
    from reprogrammability.implementations.reprogramming.programs import PaddingProgram

    mean, std = mean_std(s)
    canvas = canvas or s.canvas
    frozen = net if isinstance(net, FrozenModel) else FrozenModel(net)
    output = output if output is not None else FrequencyLabelMapping(num_source, s.classes)
    program = PaddingProgram(canvas, min(s.image, canvas), mean=mean, std=std, resize_input=True)
    return Reprogrammer(
        frozen,
        program,
        output,
        paradigm="model-reprogramming",
        modality="vision",
        name=f"padding+{type(output).__name__}",
    )


def random_images(count: int, size: int, classes: int, seed: int = 0):
    import torch

    g = torch.Generator().manual_seed(seed)
    return torch.rand(count, 3, size, size, generator=g), torch.arange(count) % classes


def timed_loader(dataset, batch_size: int, clock: Clock, between: Callable[[], Any] | None = None, seed: int = 0):
    """A DataLoader (the Trainer uses it as is) that times each step of the loop that iterates it.

    ``starts[i]`` is the stamp when the i-th pass asked for its first batch; ``passes[i]`` lists, for each
    batch of the i-th pass, the (wall, cpu) seconds from just before the batch is
    fetched to the moment the loop asks for the next one (data loading and the whole step). With ``between``,
    while gradients are enabled (training, not the Trainer's no-grad pass that fits ω), ``between`` runs and is
    timed right before each fetch: ``paired[i]`` lists (step, between) pairs taken under the same conditions.
    """
    import torch
    from torch.utils.data import DataLoader

    from reprogrammability.framework.training import _collate

    class TimedLoader(DataLoader):
        passes: list[list[tuple[float, float]]]
        starts: list[tuple[float, float]]
        paired: list[list[tuple[tuple[float, float], tuple[float, float]]]]

        def __iter__(self):
            iterator = super().__iter__()
            steps: list[tuple[float, float]] = []
            pairs: list[tuple[tuple[float, float], tuple[float, float]]] = []
            self.passes.append(steps)
            self.paired.append(pairs)
            start, other = None, None
            while True:
                entry = clock.now()
                if start is None:
                    self.starts.append(entry)
                if start is not None:
                    steps.append((entry[0] - start[0], entry[1] - start[1]))
                    if other is not None:
                        pairs.append((steps[-1], other))
                start, other = entry, None
                if between is not None and torch.is_grad_enabled():
                    between()
                    start = clock.now()
                    other = (start[0] - entry[0], start[1] - entry[1])
                try:
                    batch = next(iterator)
                except StopIteration:
                    return
                yield batch

    loader = TimedLoader(
        dataset, batch_size=batch_size, shuffle=True, collate_fn=_collate, generator=torch.Generator().manual_seed(seed)
    )
    loader.passes, loader.paired, loader.starts = [], [], []
    return loader


def tiny_llama(s: Settings, seed: int = 0):
    """The Llama-like test LM of the mode; its vocabulary covers the word-level tokenizer's."""
    from reprogrammability.implementations.models.tiny import tiny_causal_lm, tiny_tokenizer

    vocab = max(s.lm_vocab, len(tiny_tokenizer(style="causal")))
    return tiny_causal_lm(
        "llama",
        vocab_size=vocab,
        hidden_size=s.lm_hidden,
        num_layers=s.lm_layers,
        num_heads=s.lm_heads,
        num_kv_heads=s.lm_kv_heads,
        max_positions=512,
        seed=seed,
    )
