"""Export learned prompts to, and import them from, peft's adapter format for prompt learning.

A peft prompt-learning adapter is a folder with

* ``adapter_config.json``: ``peft_type`` (``PROMPT_TUNING``, ``P_TUNING``, ``PREFIX_TUNING``),
  ``task_type``, ``num_virtual_tokens``, ``token_dim``, ``num_layers``, ``num_attention_heads``, ...;
* ``adapter_model.safetensors``: one tensor ``prompt_embeddings``: the prompt as the model sees it,
  (L_p, D) for prompt tuning and P-tuning (the encoder's output), (L_p, N·2·H_kv·d) for prefix
  tuning (the reparameterisation's output; ``token_dim = H_kv·d`` and ``num_attention_heads = H_kv``
  under grouped-query attention).

So an exported P-tuning or reparameterised prefix adapter holds the merged prompt, as peft's own
``save_pretrained`` writes it, and imports as a plain :class:`SoftPrompt` / direct
:class:`KeyValuePrompt`. peft itself is not needed to read or write the format.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor

from reprogrammability.framework.interfaces import AttentionGeometry

from .encoders import EncodedPrompt
from .prefix import KeyValuePrompt
from .soft_prompt import SoftPrompt

__all__ = ["export_peft", "import_peft", "load_peft_weights", "PEFT_CONFIG", "PEFT_WEIGHTS", "PEFT_TYPES"]

PEFT_CONFIG = "adapter_config.json"
PEFT_WEIGHTS = "adapter_model.safetensors"
PEFT_TYPES = ("PROMPT_TUNING", "P_TUNING", "PREFIX_TUNING")
_TASK_TYPES = ("CAUSAL_LM", "SEQ_CLS", "SEQ_2_SEQ_LM", "TOKEN_CLS", "QUESTION_ANS", "FEATURE_EXTRACTION")


def _find_part(source: Any):
    if isinstance(source, (SoftPrompt, EncodedPrompt, KeyValuePrompt)):
        return source
    parts = [m for m in getattr(source, "inputs", []) if isinstance(m, (SoftPrompt, EncodedPrompt, KeyValuePrompt))]
    if len(parts) != 1:
        raise ValueError(
            "source: expected a SoftPrompt, EncodedPrompt or KeyValuePrompt, or a reprogrammer with exactly one of them"
        )
    return parts[0]


def _model_numbers(source: Any, part: Any) -> dict[str, int]:
    if isinstance(part, KeyValuePrompt):
        g = part.geometry
        return {
            "num_layers": g.num_layers,
            "num_attention_heads": g.num_kv_heads,
            "token_dim": g.num_kv_heads * g.head_dim,
        }
    frozen = getattr(source, "frozen", None)
    numbers = {"token_dim": int(part.prompts().shape[-1])}
    if frozen is not None and hasattr(frozen.adapter, "attention_geometry"):
        g = frozen.adapter.attention_geometry(frozen.model)
        numbers.update(num_layers=g.num_layers, num_attention_heads=_config_heads(frozen.model, g))
    return numbers


def _config_heads(model: Any, geometry: AttentionGeometry) -> int:
    config = getattr(model, "config", None)
    return int(getattr(config, "num_attention_heads", None) or geometry.num_kv_heads)


@torch.no_grad()
def export_peft(
    source: Any,
    directory: str | Path,
    *,
    task_type: str = "CAUSAL_LM",
    base_model_name_or_path: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``source``'s prompt (a part, or a reprogrammer holding one) as a peft adapter folder.

    Prompt-tuning prompts must be a single (L_p, D) prompt prepended at position 0 (what peft models).
    Refuses to overwrite existing files unless ``overwrite=True``. Returns the folder.
    """
    if task_type not in _TASK_TYPES:
        raise ValueError(f"task_type: {task_type!r} is not one of {list(_TASK_TYPES)}")
    part = _find_part(source)
    directory = Path(directory)
    existing = [p for p in (directory / PEFT_CONFIG, directory / PEFT_WEIGHTS) if p.exists()]
    if existing and not overwrite:
        raise FileExistsError(f"directory: {existing[0]} exists; pass overwrite=True to replace it")
    config: dict[str, Any] = {
        "base_model_name_or_path": base_model_name_or_path,
        "inference_mode": True,
        "num_transformer_submodules": 1,
        "revision": None,
        "task_type": task_type,
        "auto_mapping": None,
        "modules_to_save": None,
    }
    config.update(_model_numbers(source, part))
    if isinstance(part, KeyValuePrompt):
        embeddings = part.flat_prefix()
        config.update(
            peft_type="PREFIX_TUNING",
            prefix_projection=part.reparameterized,
            encoder_hidden_size=part.reparameterization[0].out_features
            if part.reparameterized
            else config["token_dim"],
            init_weights=None,
        )
    else:
        if part.position not in (0, "start") or part.prompts().dim() != 2:
            raise ValueError("source: peft prompts are one (L_p, D) prompt prepended at position 0")
        embeddings = part.prompts()
        if isinstance(part, EncodedPrompt):
            encoder = part.encoder
            config.update(
                peft_type="P_TUNING",
                encoder_reparameterization_type=encoder.kind.upper(),
                encoder_hidden_size=encoder.hidden,
                encoder_num_layers=encoder.lstm_layers,
                encoder_dropout=0.0,
            )
        else:
            config.update(
                peft_type="PROMPT_TUNING",
                prompt_tuning_init="RANDOM",
                prompt_tuning_init_text=None,
                tokenizer_name_or_path=None,
                tokenizer_kwargs=None,
            )
    config["num_virtual_tokens"] = int(embeddings.shape[0])
    directory.mkdir(parents=True, exist_ok=True)
    save_file({"prompt_embeddings": embeddings.detach().float().cpu().contiguous()}, str(directory / PEFT_WEIGHTS))
    (directory / PEFT_CONFIG).write_text(json.dumps(dict(sorted(config.items())), indent=2) + "\n")
    return directory


def load_peft_weights(directory: str | Path) -> tuple[dict[str, Any], Tensor]:
    """(config, prompt_embeddings) of a peft prompt-learning adapter folder."""
    directory = Path(directory)
    config_path, weights_path = directory / PEFT_CONFIG, directory / PEFT_WEIGHTS
    for path in (config_path, weights_path):
        if not path.exists():
            raise FileNotFoundError(f"directory: no {path.name} in {directory}")
    config = json.loads(config_path.read_text())
    peft_type = config.get("peft_type")
    if peft_type not in PEFT_TYPES:
        raise ValueError(f"{config_path}: peft_type {peft_type!r} is not one of {list(PEFT_TYPES)}")
    weights = load_file(str(weights_path))
    if "prompt_embeddings" not in weights:
        raise KeyError(f"{weights_path}: no 'prompt_embeddings' tensor (found {sorted(weights)})")
    embeddings = weights["prompt_embeddings"]
    if embeddings.dim() != 2 or embeddings.shape[0] != config.get("num_virtual_tokens"):
        raise ValueError(
            f"{weights_path}: prompt_embeddings has shape {tuple(embeddings.shape)}, "
            f"expected ({config.get('num_virtual_tokens')}, ·)"
        )
    return config, embeddings


def import_peft(directory: str | Path, *, geometry: AttentionGeometry | None = None):
    """A part holding a peft adapter's prompt: :class:`SoftPrompt` (prompt tuning, P-tuning) or a direct
    :class:`KeyValuePrompt` (prefix tuning; ``geometry`` checked against the config when given)."""
    config, embeddings = load_peft_weights(directory)
    if config["peft_type"] == "PREFIX_TUNING":
        layers, heads, token_dim = config["num_layers"], config["num_attention_heads"], config["token_dim"]
        if token_dim % heads:
            raise ValueError(f"{directory}: token_dim {token_dim} is not a multiple of num_attention_heads {heads}")
        found = AttentionGeometry(
            num_layers=layers, num_kv_heads=heads, head_dim=token_dim // heads, hidden_size=token_dim
        )
        if geometry is not None and (geometry.num_layers, geometry.num_kv_heads, geometry.head_dim) != (
            found.num_layers,
            found.num_kv_heads,
            found.head_dim,
        ):
            raise ValueError(f"geometry: the adapter was saved for {found}, the model has {geometry}")
        part = KeyValuePrompt(geometry or found, embeddings.shape[0], init_std=0.0)
        with torch.no_grad():
            part.prefix.copy_(embeddings)
        return part
    return SoftPrompt(embeddings, position=0)
