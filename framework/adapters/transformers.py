"""Interface adapters for Hugging Face transformers models.

* :class:`TextAdapter`: causal LMs, masked LMs, sequence classifiers and bare text encoders. The
  embedding interface is the token-embedding output (what ``inputs_embeds`` means); hidden
  edits hook the decoder/encoder blocks; key/value prefixes enter as a ``DynamicCache``.
* :class:`VisionTransformerAdapter`: ViT and CLIP's vision tower. The embedding interface is the
  patch embeddings with class token and positions, before the first block.
* :class:`CLIPTextAdapter`: CLIP's text tower (token embeddings before positions are added;
  pooled at the end-of-text token).
* :class:`CLIPAdapter`: a whole CLIP model as a zero-shot classifier of images over fixed class
  prompts, with two towers, ``"vision"`` and ``"text"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import torch
from torch import Tensor, nn

from ..axes import Location
from ..errors import InterfaceError
from ..interfaces import AttentionGeometry, EmbeddingState, KeyValuePrefix, ModelAdapter
from .transformers_parts import (
    attention_geometry_of,
    call_module,
    find_layers,
    hf_model,
    key_value_cache,
    logit_scale,
    module_list,
    takes_logits_to_keep,
    text_config,
    text_model_kind,
)

__all__ = [
    "TextAdapter",
    "VisionTransformerAdapter",
    "CLIPTextAdapter",
    "CLIPAdapter",
    "transformers_adapter",
    "TEXT_READOUTS",
    "RowLayout",
    "ROW_LAYOUT",
]

TEXT_READOUTS = ("last", "sequence", "mask", "logits", "mean", "output", "last_features", "mask_features", "cls")
"""``last``: scores at the last real token (causal LMs); ``sequence``: scores at every original token;
``mask``: scores at the mask token (masked LMs); ``logits``: the model's own logits (classifiers);
``mean``: mean of the last hidden state over real tokens (encoders); ``output``: the raw model output;
``last_features`` / ``mask_features``: the features the LM head scores, i.e. the input of the
output-embedding layer (B, D), at the last real token / the mask token (linear heads, WARP);
``cls``: the final hidden state of the first original token (encoders with a ``[CLS]`` token)."""

_FEATURE_READOUTS = ("last_features", "mask_features")
_AUTO_READOUTS = {"causal": "last", "masked": "mask", "classifier": "logits", "encoder": "mean"}
"""The readout ``"auto"`` picks for each :func:`text_model_kind`."""

ROW_LAYOUT = "row_layout"
"""Key of :class:`RowLayout` in ``EmbeddingState.extra`` (set by a program bank's mixed-length pass)."""


@dataclass(frozen=True)
class RowLayout:
    """Per-row sequence layout of a batch whose rows carry soft prompts and prefixes of different lengths.

    Row i was built by its own task: its embedded sequence (prompt included) is right-padded with masked
    positions to the batch's length T, and its key/value prefix of ``prefix_lengths[i]`` = P_i positions is
    padded with masked keys to the batch's P. Real tokens of row i then take the positions
    ``P_i + (0, 1, …, T_i − 1)``, exactly those of a run of row i alone.

    ``token_positions``: (B, T₀) where each original token of each row now sits (readouts read there).
    ``prefix_lengths``: (B,) P_i (zeros when no row has a prefix).
    """

    token_positions: Tensor
    prefix_lengths: Tensor

    def prefix_mask(self, length: int, dtype: torch.dtype) -> Tensor:
        """(B, P): 1 for row i's first P_i prefix keys, 0 for its padding keys."""
        if int(self.prefix_lengths.max()) > length:
            raise InterfaceError(
                f"prefix_lengths: a row declares {int(self.prefix_lengths.max())} prefix positions, the batch has {length}"
            )
        order = torch.arange(length, device=self.prefix_lengths.device)
        return (order.unsqueeze(0) < self.prefix_lengths.unsqueeze(1)).to(dtype)

    def position_ids(self, length: int) -> Tensor:
        """(B, T): ``P_i + t``, the positions row i's tokens get when it runs alone after its P_i-long prefix."""
        order = torch.arange(length, device=self.prefix_lengths.device)
        return self.prefix_lengths.unsqueeze(1) + order.unsqueeze(0)


def _pick(positions: Tensor, index: Tensor) -> Tensor:
    """(B,): row b's entry ``index[b]`` of ``positions`` ((T₀,) shared or (B, T₀) per row)."""
    if positions.dim() == 1:
        return positions[index]
    return positions.gather(1, index.unsqueeze(1)).squeeze(1)


def _positions(state: EmbeddingState) -> Tensor:
    """(T₀,): where each original token of ``state`` sits now."""
    assert state.token_positions is not None  # set by EmbeddingState.__post_init__
    return state.token_positions


def _at(values: Tensor, positions: Tensor) -> Tensor:
    """``values`` (B, T, …) at ``positions``: (T₀,) shared by every row, or (B, T₀) per row → (B, T₀, …)."""
    if positions.dim() == 1:
        return values[:, positions]
    batch = torch.arange(values.shape[0], device=values.device).unsqueeze(1)
    return values[batch, positions]


class _WithFeatures:
    """A model output with the input of its output-embedding layer (B, T, D) and the positions it was limited to."""

    __slots__ = ("output", "features", "read")

    def __init__(self, output: Any, features: Tensor | None, read: Tensor | None = None):
        self.output, self.features, self.read = output, features, read


class TextAdapter(ModelAdapter):
    """Any transformers text model that accepts ``input_ids`` or ``inputs_embeds``.

    Args:
        tokenizer: turns strings into token ids (needed when the inputs are strings).
        readout: one of :data:`TEXT_READOUTS`; ``"auto"`` picks ``last`` for causal LMs, ``mask``
            for masked LMs, ``logits`` for classifiers, ``mean`` for bare encoders.
        max_length: truncate tokenised strings to this many tokens.
    """

    name = "transformers-text"
    per_row_layout = True
    """Rows of one batch may carry soft prompts and key/value prefixes of different lengths (:class:`RowLayout`)."""

    def __init__(self, tokenizer: Any = None, readout: str = "auto", max_length: int | None = None):
        if readout != "auto" and readout not in TEXT_READOUTS:
            raise ValueError(f"readout: {readout!r} is not one of {['auto', *TEXT_READOUTS]}")
        self.tokenizer = tokenizer
        self.readout_mode = readout
        self.max_length = max_length

    def _mode(self, model: nn.Module) -> str:
        if self.readout_mode != "auto":
            return self.readout_mode
        return _AUTO_READOUTS[text_model_kind(model)]

    def locations(self, model: nn.Module) -> frozenset[Location]:
        return frozenset({Location.INPUT, Location.EMBEDDING, Location.HIDDEN})

    def prepare(self, model: nn.Module, x: Any) -> dict[str, Tensor]:
        device = next(model.parameters()).device
        if isinstance(x, str) or (isinstance(x, (list, tuple)) and x and isinstance(x[0], str)):
            if self.tokenizer is None:
                raise InterfaceError("tokenizer: string inputs need a tokenizer (FrozenModel(model, tokenizer=...))")
            texts = [x] if isinstance(x, str) else list(x)
            encoded = self.tokenizer(
                texts,
                padding=True,
                truncation=self.max_length is not None,
                max_length=self.max_length,
                return_tensors="pt",
            )
            x = {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}
        if isinstance(x, Tensor):
            x = {"input_ids": x}
        if not isinstance(x, dict) and hasattr(x, "keys"):
            x = dict(x)
        if not isinstance(x, dict) or "input_ids" not in x:
            raise InterfaceError(
                f"x: expected strings, a (B, T) tensor of token ids or a dict with 'input_ids', got {type(x).__name__}"
            )
        ids = x["input_ids"].to(device)
        if ids.dim() != 2:
            raise InterfaceError(f"input_ids: expected shape (B, T), got {tuple(ids.shape)}")
        mask = x.get("attention_mask")
        mask = torch.ones_like(ids) if mask is None else mask.to(device)
        return {"input_ids": ids, "attention_mask": mask}

    def _call(self, model: nn.Module, read: Tensor | None = None, **kwargs: Any) -> Any:
        """Run the model; feature readouts also keep the input of its output-embedding layer.

        ``read`` (B,): the one position per sequence a ``last``/``mask`` readout scores. Models that
        take ``logits_to_keep`` then project only those positions onto the vocabulary (the same
        scores, without the (B, T, V) logits of every position).
        """
        mode = self._mode(model)
        if mode == "cls":
            kwargs["output_hidden_states"] = True
        if read is not None and takes_logits_to_keep(model):
            kwargs["logits_to_keep"] = read.unsqueeze(1)
        else:
            read = None
        kept: list[Tensor] = []
        handle = None
        if mode in _FEATURE_READOUTS:
            get_head = getattr(model, "get_output_embeddings", None)
            head: nn.Module | None = get_head() if get_head is not None else None
            if head is None:
                raise InterfaceError(
                    f"readout {mode!r}: {type(model).__name__} has no output-embedding layer (LM head)"
                )
            handle = head.register_forward_pre_hook(lambda module, args: kept.append(args[0]))
        try:
            output = model(**kwargs)
        finally:
            if handle is not None:
                handle.remove()
        return _WithFeatures(output, kept[-1] if kept else None, read)

    def _read_positions(
        self, model: nn.Module, input_ids: Tensor, original_mask: Tensor, positions: Tensor
    ) -> Tensor | None:
        """(B,) current position of the token a ``last``/``mask`` readout scores; ``None`` for other readouts.
        ``positions``: (T₀,) shared by every row or (B, T₀) per row (:class:`RowLayout`)."""
        mode = self._mode(model)
        if mode in ("last", "last_features"):
            order = torch.arange(original_mask.shape[1], device=original_mask.device)
            last = (order * original_mask.long()).argmax(dim=1)
            return _pick(positions, last)
        if mode not in ("mask", "mask_features"):
            return None
        mask_id = getattr(self.tokenizer, "mask_token_id", None) if self.tokenizer is not None else None
        mask_id = mask_id if mask_id is not None else getattr(hf_model(model).config, "mask_token_id", None)
        if mask_id is None:
            raise InterfaceError(f"readout {mode!r}: no mask token id (give a tokenizer with a mask token)")
        is_mask = input_ids == mask_id
        if not bool((is_mask.sum(1) == 1).all()):
            raise InterfaceError(f"readout {mode!r}: every example needs exactly one mask token")
        return _pick(positions, is_mask.long().argmax(dim=1))

    def forward_input(self, model: nn.Module, x: dict[str, Tensor]) -> Any:
        positions = torch.arange(x["input_ids"].shape[1], device=x["input_ids"].device)
        read = self._read_positions(model, x["input_ids"], x["attention_mask"], positions)
        output = self._call(model, read, input_ids=x["input_ids"], attention_mask=x["attention_mask"])
        return self.readout(model, output, x["input_ids"], x["attention_mask"], positions, x["attention_mask"])

    def embedding_module(self, model: nn.Module) -> nn.Module:
        return hf_model(model).get_input_embeddings()

    def embed(self, model: nn.Module, x: dict[str, Tensor]) -> EmbeddingState:
        embeds = call_module(hf_model(model).get_input_embeddings(), x["input_ids"])
        return EmbeddingState(
            embeds=embeds,
            attention_mask=x["attention_mask"],
            extra={"input_ids": x["input_ids"], "original_mask": x["attention_mask"]},
        )

    def forward_embedded(
        self, model: nn.Module, state: EmbeddingState, key_values: KeyValuePrefix | None = None
    ) -> Any:
        """Run f from ``state``; a :class:`RowLayout` in ``state.extra`` gives per-row token positions and
        prefix lengths (prefix keys past a row's own P_i masked, its tokens at positions P_i + t)."""
        mask = state.attention_mask
        if mask is None:
            mask = torch.ones(state.embeds.shape[:2], dtype=torch.long, device=state.embeds.device)
        kwargs: dict[str, Any] = {}
        layout = state.extra.get(ROW_LAYOUT)
        if layout is not None and not isinstance(layout, RowLayout):
            raise InterfaceError(f"extra[{ROW_LAYOUT!r}]: expected a RowLayout, got {type(layout).__name__}")
        positions = _positions(state) if layout is None else layout.token_positions
        if key_values:
            prefix = key_values[0][0].shape[2]
            if layout is None:
                prefix_mask = mask.new_ones(mask.shape[0], prefix)
            else:
                prefix_mask = layout.prefix_mask(prefix, mask.dtype)
                kwargs["position_ids"] = layout.position_ids(state.length)
            mask = torch.cat([prefix_mask, mask], dim=1)
            kwargs["past_key_values"] = key_value_cache(key_values, hf_model(model).config)
        elif layout is not None and bool((layout.prefix_lengths != 0).any()):
            raise InterfaceError("prefix_lengths: rows declare key/value prefixes, but no prefix was given")
        read = self._read_positions(model, state.extra["input_ids"], state.extra["original_mask"], positions)
        output = self._call(model, read, inputs_embeds=state.embeds, attention_mask=mask, **kwargs)
        return self.readout(model, output, state.extra["input_ids"], state.extra["original_mask"], positions, mask)

    def readout(
        self, model: nn.Module, output: Any, input_ids: Tensor, original_mask: Tensor, positions: Tensor, mask: Tensor
    ) -> Any:
        """Read f's output at the original tokens (``positions`` maps original to current positions)."""
        mode = self._mode(model)
        features: Tensor | None = None
        read: Tensor | None = None
        if isinstance(output, _WithFeatures):
            output, features, read = output.output, output.features, output.read
        if mode == "output":
            return output
        if mode == "logits":
            return output.logits
        if mode == "mean":
            hidden = _at(output.last_hidden_state, positions)
            weights = original_mask.unsqueeze(-1).to(hidden.dtype)
            return (hidden * weights).sum(1) / weights.sum(1).clamp_min(1)
        if mode == "cls":
            final: Tensor | None = getattr(output, "last_hidden_state", None)
            final = output.hidden_states[-1] if final is None else final
            return _at(final, positions[..., :1])[:, 0]
        scores: Tensor | None = features if mode in _FEATURE_READOUTS else output.logits
        if scores is None:
            raise InterfaceError(f"readout {mode!r}: the output-embedding layer (LM head) did not run")
        if mode == "sequence":
            return _at(scores, positions)
        if read is not None:  # the model scored only the read positions (logits_to_keep)
            return scores[:, 0]
        batch = torch.arange(input_ids.shape[0], device=input_ids.device)
        return scores[batch, self._read_positions(model, input_ids, original_mask, positions)]

    def layers(self, model: nn.Module, tower: str | None = None) -> Sequence[nn.Module]:
        layers = find_layers(model, text_config(model).num_hidden_layers)
        return list(layers) if layers is not None else []

    def attention_geometry(self, model: nn.Module) -> AttentionGeometry:
        return attention_geometry_of(text_config(model))


@dataclass(frozen=True)
class _VisionParts:
    """A ViT or CLIP vision model: ``kind`` ("vit" or "clip"), the transformer ``body`` and the ``head`` on its
    class token (classifier or projection; ``None`` when there is none)."""

    kind: str
    body: nn.Module
    head: nn.Module | None

    @property
    def blocks(self) -> str:
        """Where the body keeps its blocks."""
        return "layers" if self.kind == "vit" else "encoder.layers"


class VisionTransformerAdapter(ModelAdapter):
    """ViT (``ViTModel``, ``ViTForImageClassification``) and CLIP's vision tower.

    Readouts: ``logits`` (the classifier's, ViTForImageClassification), ``cls`` (normalised class
    token), ``embeds`` (CLIP image embeddings after the projection, when the model has one).
    """

    name = "transformers-vit"

    def __init__(self, readout: str = "auto"):
        if readout not in ("auto", "logits", "cls", "embeds"):
            raise ValueError(f"readout: {readout!r} is not one of ['auto', 'logits', 'cls', 'embeds']")
        self.readout_mode = readout

    @staticmethod
    def _parts(model: nn.Module) -> _VisionParts:
        if hasattr(model, "vit"):  # ViTForImageClassification
            return _VisionParts("vit", model.get_submodule("vit"), model.get_submodule("classifier"))
        if hasattr(model, "vision_model"):  # CLIPVisionModel(WithProjection)
            return _VisionParts("clip", model.get_submodule("vision_model"), getattr(model, "visual_projection", None))
        if hasattr(model, "embeddings") and hasattr(model, "layers"):  # ViTModel
            return _VisionParts("vit", model, None)
        if hasattr(model, "embeddings") and hasattr(model, "pre_layrnorm"):  # CLIPVisionTransformer
            return _VisionParts("clip", model, None)
        raise InterfaceError(f"model: {type(model).__name__} is not a ViT or CLIP vision model")

    def _mode(self, parts: _VisionParts) -> str:
        if self.readout_mode != "auto":
            return self.readout_mode
        if parts.head is None:
            return "cls"
        return "logits" if parts.kind == "vit" else "embeds"

    def locations(self, model: nn.Module) -> frozenset[Location]:
        return frozenset({Location.INPUT, Location.EMBEDDING, Location.HIDDEN})

    def forward_input(self, model: nn.Module, x: Tensor) -> Tensor:
        return self.forward_embedded(model, self.embed(model, x))

    def embedding_module(self, model: nn.Module) -> nn.Module:
        return self._parts(model).body.get_submodule("embeddings")

    def embed(self, model: nn.Module, x: Tensor) -> EmbeddingState:
        body = self._parts(model).body
        dtype = next(body.parameters()).dtype
        return EmbeddingState(embeds=call_module(body.get_submodule("embeddings"), x.to(dtype)))

    def forward_embedded(
        self, model: nn.Module, state: EmbeddingState, key_values: KeyValuePrefix | None = None
    ) -> Tensor:
        if key_values:
            raise InterfaceError("VisionTransformerAdapter: key/value prefixes are not supported; use hidden edits")
        parts = self._parts(model)
        body, head = parts.body, parts.head
        hidden = state.embeds
        if parts.kind == "clip":
            hidden = call_module(body.get_submodule("pre_layrnorm"), hidden)
        for block in module_list(body, parts.blocks):
            out = block(hidden, None)
            hidden = out[0] if isinstance(out, tuple) else out
        mode = self._mode(parts)
        if parts.kind == "vit":
            cls = call_module(body.get_submodule("layernorm"), hidden)[:, 0]
            if mode != "logits":
                return cls
            if head is None:
                raise InterfaceError(f"readout 'logits': {type(model).__name__} has no classifier head")
            return call_module(head, cls)
        cls = call_module(body.get_submodule("post_layernorm"), hidden[:, 0])
        return call_module(head, cls) if mode == "embeds" and head is not None else cls

    def layers(self, model: nn.Module, tower: str | None = None) -> Sequence[nn.Module]:
        parts = self._parts(model)
        return module_list(parts.body, parts.blocks)

    def attention_geometry(self, model: nn.Module) -> AttentionGeometry:
        config = hf_model(model).config
        return attention_geometry_of(getattr(config, "vision_config", config))


class CLIPTextAdapter(ModelAdapter):
    """CLIP's text tower (``CLIPTextModel`` or ``CLIPTextModelWithProjection``).

    The embedding interface is the token embeddings *before* position embeddings are added (where
    CoOp's context vectors live); the readout is the end-of-text token's final state, projected
    when the model has a projection.
    """

    name = "transformers-clip-text"

    def __init__(self, tokenizer: Any = None):
        self.tokenizer = tokenizer
        self._text = TextAdapter(tokenizer=tokenizer, readout="output")

    @staticmethod
    def _body(model: nn.Module) -> nn.Module:
        return model.get_submodule("text_model") if hasattr(model, "text_model") else model

    def locations(self, model: nn.Module) -> frozenset[Location]:
        return frozenset({Location.INPUT, Location.EMBEDDING, Location.HIDDEN})

    def prepare(self, model: nn.Module, x: Any) -> dict[str, Tensor]:
        return self._text.prepare(model, x)

    def embedding_module(self, model: nn.Module) -> nn.Module:
        return self._body(model).get_submodule("embeddings.token_embedding")

    def embed(self, model: nn.Module, x: dict[str, Tensor]) -> EmbeddingState:
        body = self._body(model)
        return EmbeddingState(
            embeds=call_module(body.get_submodule("embeddings.token_embedding"), x["input_ids"]),
            attention_mask=x["attention_mask"],
            extra={"input_ids": x["input_ids"], "original_mask": x["attention_mask"]},
        )

    def forward_input(self, model: nn.Module, x: dict[str, Tensor]) -> Tensor:
        return self.forward_embedded(model, self.embed(model, x))

    def eot_positions(self, model: nn.Module, input_ids: Tensor) -> Tensor:
        """Original position of the end-of-text token of each sequence."""
        body = self._body(model)
        eos: int | None = getattr(body, "eos_token_id", None)
        if eos is None or eos == 2:
            return input_ids.argmax(dim=-1)
        return (input_ids == eos).int().argmax(dim=-1)

    def forward_embedded(
        self, model: nn.Module, state: EmbeddingState, key_values: KeyValuePrefix | None = None
    ) -> Tensor:
        if key_values:
            raise InterfaceError("CLIPTextAdapter: key/value prefixes are not supported; use hidden edits")
        body = self._body(model)
        hidden = call_module(body.get_submodule("embeddings"), inputs_embeds=state.embeds)
        length = hidden.shape[1]
        causal = torch.full((length, length), float("-inf"), device=hidden.device, dtype=hidden.dtype).triu(1)
        mask = causal[None, None].expand(hidden.shape[0], 1, length, length)
        if state.attention_mask is not None:
            padding = (1.0 - state.attention_mask[:, None, None, :].to(hidden.dtype)) * torch.finfo(hidden.dtype).min
            mask = mask + padding
        for block in module_list(body, "encoder.layers"):
            out = block(hidden, mask)
            hidden = out[0] if isinstance(out, tuple) else out
        hidden = call_module(body.get_submodule("final_layer_norm"), hidden)
        eot = _positions(state)[self.eot_positions(model, state.extra["input_ids"])]
        pooled = hidden[torch.arange(hidden.shape[0], device=hidden.device), eot]
        projection: nn.Module | None = getattr(model, "text_projection", None)
        return call_module(projection, pooled) if projection is not None else pooled

    def layers(self, model: nn.Module, tower: str | None = None) -> Sequence[nn.Module]:
        return module_list(self._body(model), "encoder.layers")

    def attention_geometry(self, model: nn.Module) -> AttentionGeometry:
        config = hf_model(model).config
        return attention_geometry_of(getattr(config, "text_config", config))


class CLIPAdapter(ModelAdapter):
    """A ``CLIPModel`` as a classifier of images over fixed class prompts.

    ``z = s · cos(g(x), h(t_c))`` for every class prompt ``t_c`` (token ids, (C, L)), with ``s`` the
    model's learned logit scale. Two towers: manipulations with ``tower="vision"`` act on the image
    tower, ``tower="text"`` on the class prompts' token embeddings.
    """

    name = "transformers-clip"

    def __init__(self, class_prompts: Any, tokenizer: Any = None):
        self.tokenizer = tokenizer
        self.vision = VisionTransformerAdapter(readout="embeds")
        self.text = CLIPTextAdapter(tokenizer=tokenizer)
        self.class_prompts = class_prompts

    def locations(self, model: nn.Module) -> frozenset[Location]:
        return frozenset({Location.INPUT, Location.EMBEDDING, Location.HIDDEN})

    def _towers(self, model: nn.Module) -> dict[str, nn.Module]:
        return {"vision": _VisionView(model), "text": _TextView(model)}

    def class_inputs(self, model: nn.Module) -> dict[str, Tensor]:
        return self.text.prepare(model, self.class_prompts)

    def embed(self, model: nn.Module, x: Tensor) -> dict[str, EmbeddingState]:
        towers = self._towers(model)
        return {
            "vision": self.vision.embed(towers["vision"], x),
            "text": self.text.embed(towers["text"], self.class_inputs(model)),
        }

    def forward_input(self, model: nn.Module, x: Tensor) -> Tensor:
        return self.forward_embedded(model, self.embed(model, x))

    def forward_embedded(
        self, model: nn.Module, states: dict[str, EmbeddingState], key_values: KeyValuePrefix | None = None
    ) -> Tensor:
        if key_values:
            raise InterfaceError("CLIPAdapter: key/value prefixes are not supported; use hidden edits")
        towers = self._towers(model)
        image = self.vision.forward_embedded(towers["vision"], states["vision"])
        text = self.text.forward_embedded(towers["text"], states["text"])
        return logits_from_features(image, text, logit_scale(model))

    def embedding_module(self, model: nn.Module) -> nn.Module:
        return model.get_submodule("vision_model.embeddings")

    def layers(self, model: nn.Module, tower: str | None = None) -> Sequence[nn.Module]:
        if tower not in (None, "vision", "text"):
            raise InterfaceError(f"tower: {tower!r} is not one of ['vision', 'text']")
        return module_list(model, "text_model.encoder.layers" if tower == "text" else "vision_model.encoder.layers")


def logits_from_features(image: Tensor, text: Tensor, logit_scale: Tensor) -> Tensor:
    """``s · cos(image_b, text_c)``: (B, D) × (C, D) -> (B, C)."""
    image = image / image.norm(dim=-1, keepdim=True)
    text = text / text.norm(dim=-1, keepdim=True)
    return logit_scale.exp() * image @ text.t()


class _VisionView(nn.Module):
    """CLIPModel seen as a CLIPVisionModelWithProjection (shares the modules, owns nothing)."""

    def __init__(self, clip: nn.Module):
        super().__init__()
        object.__setattr__(self, "vision_model", clip.vision_model)
        object.__setattr__(self, "visual_projection", clip.visual_projection)
        object.__setattr__(self, "config", clip.config)

    vision_model: nn.Module

    def parameters(self, recurse: bool = True) -> Iterator[nn.Parameter]:
        return self.vision_model.parameters(recurse)


class _TextView(nn.Module):
    """CLIPModel seen as a CLIPTextModelWithProjection (shares the modules, owns nothing)."""

    def __init__(self, clip: nn.Module):
        super().__init__()
        object.__setattr__(self, "text_model", clip.text_model)
        object.__setattr__(self, "text_projection", clip.text_projection)
        object.__setattr__(self, "config", clip.config)

    text_model: nn.Module

    def parameters(self, recurse: bool = True) -> Iterator[nn.Parameter]:
        return self.text_model.parameters(recurse)


def transformers_adapter(model: nn.Module, **options: Any) -> ModelAdapter:
    """The adapter for a transformers model, by class name."""
    name = type(model).__name__
    if name == "CLIPModel":
        if "class_prompts" not in options:
            raise InterfaceError("class_prompts: a CLIPModel needs the class prompts to classify against")
        return CLIPAdapter(**options)
    if name.startswith("CLIPText"):
        return CLIPTextAdapter(**options)
    if name.startswith("CLIPVision") or name.startswith("ViT"):
        return VisionTransformerAdapter(**options)
    return TextAdapter(**options)
