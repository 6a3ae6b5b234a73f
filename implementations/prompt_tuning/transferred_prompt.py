"""Prompt tuning started from a prompt learned elsewhere (PPT's pre-trained prompt, SPoT's source-task prompt).

    P ← P₀ (a given (L_p, D) prompt),   ŷ = v(f([P; E(x)]))

:func:`load_prompt` reads P₀ from a peft adapter folder, a ``save_learned`` folder or a
``.safetensors`` file; :func:`transferred_soft_prompt` checks its shape and wraps it as the
learnable :class:`~.soft_prompt.SoftPrompt` (without P₀: prompt tuning's own initialisation);
:func:`transferred_prompt_tuning` is the whole reprogrammer both methods build.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import torch
from safetensors.torch import load_file
from torch import Tensor

from reprogrammability.framework.errors import ShapeError
from reprogrammability.framework.reprogrammer import LEARNED_WEIGHTS, Reprogrammer

from .common import hidden_size
from .peft_format import PEFT_CONFIG, load_peft_weights
from .soft_prompt import SoftPrompt
from .text import initial_prompt, text_example, verbalizer_frozen

__all__ = ["load_prompt", "transferred_soft_prompt", "transferred_prompt_tuning"]


def load_prompt(path: str | Path) -> Tensor:
    """A (L_p, D) prompt from a peft adapter folder, a ``save_learned`` folder or a ``.safetensors`` file."""
    path = Path(path)
    if path.is_dir() and (path / PEFT_CONFIG).exists():
        config, embeddings = load_peft_weights(path)
        if config["peft_type"] == "PREFIX_TUNING":
            raise ValueError(f"source: {path} holds a prefix-tuning adapter, not an embedding prompt")
        return embeddings
    weights = path / LEARNED_WEIGHTS if path.is_dir() else path
    if not weights.exists():
        raise FileNotFoundError(f"source: no peft adapter, {LEARNED_WEIGHTS} or .safetensors file at {path}")
    state = load_file(str(weights))
    prompts = [v for k, v in state.items() if k.endswith(".prompt") or k == "prompt"]
    if len(prompts) != 1 or prompts[0].dim() != 2:
        raise ValueError(f"source: {weights} holds {len(prompts)} (L_p, D) prompt tensors, expected exactly one")
    return prompts[0]


def transferred_soft_prompt(
    frozen: Any,
    tokenizer: Any,
    config: Any,
    given: Optional[Tensor],
    path: Optional[str],
    *,
    names: tuple[str, str],
) -> SoftPrompt:
    """The soft prompt initialised from ``given`` (a tensor) or the prompt saved at ``path``; with neither,
    prompt tuning's own initialisation. ``names`` = (path option, tensor argument), for the error messages."""
    path_name, tensor_name = names
    if given is not None and path is not None:
        raise ValueError(f"{path_name}/{tensor_name}: give one prompt to start from, not both")
    if given is None and path is not None:
        given = load_prompt(path)
    if given is None:
        init = initial_prompt(frozen, tokenizer, config)
    else:
        init = given.detach().float()
        expected = (config.num_virtual_tokens, hidden_size(frozen))
        if tuple(init.shape) != expected:
            raise ShapeError(
                f"{tensor_name}: expected shape {expected} (num_virtual_tokens, D), got {tuple(init.shape)}"
            )
    return SoftPrompt(init, position=config.position)


def transferred_prompt_tuning(
    model: Any,
    config: Any,
    tokenizer: Any,
    given: Optional[Tensor],
    path: Optional[str],
    *,
    names: tuple[str, str],
    name: str,
) -> Reprogrammer:
    """ŷ = v(f([P; E(x)])) with P ← P₀ (:func:`transferred_soft_prompt`) and the config's verbalizer v."""
    frozen, verbalizer, tokenizer = verbalizer_frozen(model, tokenizer, config)
    prompt = transferred_soft_prompt(frozen, tokenizer, config, given, path, names=names)
    return Reprogrammer(frozen, prompt, verbalizer, paradigm="prompt-tuning", modality="text", name=name)


def transfer_example(build: Any, argument: str, seed: int) -> tuple[Reprogrammer, list[str], Tensor]:
    """The registry example: ``build`` on the tiny llama with a random (4, 32) P₀ passed as ``argument``."""
    start = torch.randn(4, 32, generator=torch.Generator().manual_seed(seed)) * 0.5
    return text_example(build, label_words=["bad", "good"], num_virtual_tokens=4, **{argument: start})
