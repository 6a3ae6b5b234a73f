"""Time series into a frozen causal language model (Time-LLM, Jin et al., ICLR 2024, arXiv:2310.01728;
TEST, Sun et al., ICLR 2024, arXiv:2308.08241).

* :class:`SeriesLanguageModelAdapter`: the LM's interface for (B, N, L) series: its embedding state carries
  the series, its hidden output the last layer's states per variable;
* :class:`PatchReprogramming`, :class:`PromptAsPrefix`, :class:`SeriesHead`: Time-LLM's patches
  reprogrammed onto text prototypes, the prompt-as-prefix and the forecasting head;
* :class:`SeriesTokenEncoder`, :class:`SoftPrefix`, :class:`SeriesClassifierHead`: TEST's series
  tokens aligned with text prototypes, its soft prompt and classification head.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, NamedTuple, Sequence

import sympy as sp
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reprogrammability.framework.alignment import OutputAlignment
from reprogrammability.framework.axes import Alignment, Configuration, Location, Operator
from reprogrammability.framework.cost import L_QUERY, ROWS, InferenceOverhead, OverheadContext, once_per_batch
from reprogrammability.framework.errors import InterfaceError, ShapeError
from reprogrammability.framework.interfaces import AttentionGeometry, EmbeddingState, KeyValuePrefix, ModelAdapter
from reprogrammability.framework.manipulation import InputManipulation
from reprogrammability.framework.symbolic import SymbolicForm, concat, op, symbols, x, z

__all__ = [
    "SeriesHidden",
    "SeriesLanguageModelAdapter",
    "PatchReprogramming",
    "PromptAsPrefix",
    "SeriesHead",
    "SeriesClassifierHead",
    "SeriesTokenEncoder",
    "SoftPrefix",
    "series_statistics_prompt",
]


# -- time series into a causal language model ----------------------------------------------------------
class SeriesHidden(NamedTuple):
    """Readout of :class:`SeriesLanguageModelAdapter`: ``hidden`` (B, N, P, D) or pooled (B, N, D), and the
    per-series location and scale (B, N, 1) of the instance normalisation (for de-normalising forecasts)."""

    hidden: Tensor
    loc: Tensor
    scale: Tensor


def _base_model(model: nn.Module) -> nn.Module:
    base = getattr(model, "base_model", None)
    return base if isinstance(base, nn.Module) else model


def _find_blocks(model: nn.Module, count: int) -> list[nn.Module]:
    best = None
    for name, module in model.named_modules():
        if isinstance(module, nn.ModuleList) and len(module) == count:
            if best is None or name.endswith(("layers", ".h", "layer")):
                best = module
    return list(best) if best is not None else []


class SeriesLanguageModelAdapter(ModelAdapter):
    """A transformers LM whose input is a time series (B, L) or (B, N, L), reached through its embedding interface.

    ``embed`` gives an empty embedding sequence carrying the series in ``extra["series"]``; embedding
    manipulations (patch reprogramming, prefixes) build the sequence; ``forward_embedded`` runs the body
    (``model.base_model``) on ``inputs_embeds`` and reads the last hidden states at the original positions
    (the patch tokens): ``readout="tokens"`` keeps them (B, N, P, D), ``"mean"`` averages them (B, N, D),
    ``"last"`` takes the last one (B, N, D).
    """

    name = "series-lm"

    def __init__(self, readout: str = "tokens"):
        if readout not in ("tokens", "mean", "last"):
            raise ValueError(f"readout: expected 'tokens', 'mean' or 'last', got {readout!r}")
        self.readout_mode = readout

    def locations(self, model: nn.Module) -> frozenset[Location]:
        return frozenset({Location.INPUT, Location.EMBEDDING, Location.HIDDEN})

    def prepare(self, model: nn.Module, x: Any) -> Tensor:
        if not isinstance(x, Tensor) or x.dim() not in (2, 3) or not x.is_floating_point():
            shape = getattr(x, "shape", type(x))
            raise ShapeError(f"x: expected a float series of shape (B, L) or (B, N, L), got {shape}")
        device = next(model.parameters()).device
        return (x.unsqueeze(1) if x.dim() == 2 else x).to(device)

    def forward_input(self, model: nn.Module, x: Any) -> Any:
        raise InterfaceError(
            "SeriesLanguageModelAdapter: a time series reaches the language model only through an embedding-location "
            "manipulation (e.g. PatchReprogramming)"
        )

    def embedding_module(self, model: nn.Module) -> nn.Module:
        return model.get_input_embeddings()

    def embed(self, model: nn.Module, x: Tensor) -> EmbeddingState:
        table = model.get_input_embeddings().weight
        B = x.shape[0]
        empty = table.new_zeros(B, 0, table.shape[1])
        mask = torch.ones(B, 0, dtype=torch.long, device=x.device)
        return EmbeddingState(embeds=empty, attention_mask=mask, extra={"series": x})

    def forward_embedded(self, model: nn.Module, state: EmbeddingState, key_values: KeyValuePrefix | None = None):
        if key_values:
            raise InterfaceError("SeriesLanguageModelAdapter: key/value prefixes are not supported")
        if state.length == 0:
            raise InterfaceError("SeriesLanguageModelAdapter: no embedding manipulation turned the series into tokens")
        output = _base_model(model)(inputs_embeds=state.embeds, attention_mask=state.attention_mask)
        hidden = output.last_hidden_state if hasattr(output, "last_hidden_state") else output[0]
        tokens = hidden[:, state.token_positions]  # (B·N, P, D)
        series = state.extra["series"]
        B, N = series.shape[:2]
        if self.readout_mode == "mean":
            tokens = tokens.mean(dim=1)
        elif self.readout_mode == "last":
            tokens = tokens[:, -1]
        tokens = tokens.reshape(B, N, *tokens.shape[1:])
        loc = state.extra.get("loc", torch.zeros(B, N, 1, device=hidden.device))
        scale = state.extra.get("scale", torch.ones(B, N, 1, device=hidden.device))
        return SeriesHidden(tokens, loc, scale)

    def layers(self, model: nn.Module) -> Sequence[nn.Module]:
        config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
        return _find_blocks(model, config.num_hidden_layers)

    def attention_geometry(self, model: nn.Module) -> AttentionGeometry:
        config = model.config
        heads = config.num_attention_heads
        kv = getattr(config, "num_key_value_heads", None) or heads
        head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
        return AttentionGeometry(config.num_hidden_layers, kv, head_dim, config.hidden_size)


def _instance_normalise(series: Tensor, eps: float = 1e-5) -> tuple[Tensor, Tensor, Tensor]:
    loc = series.mean(dim=-1, keepdim=True).detach()
    scale = torch.sqrt(series.var(dim=-1, keepdim=True, unbiased=False) + eps).detach()
    return (series - loc) / scale, loc, scale


def _patches(series: Tensor, length: int, stride: int) -> Tensor:
    """(M, L) → (M, P, L_p): pad the end by ``stride`` copies of the last value, then sliding windows."""
    padded = torch.cat([series, series[:, -1:].expand(-1, stride)], dim=-1)
    return padded.unfold(-1, length, stride)


class PatchReprogramming(InputManipulation):
    """Time-LLM's patch reprogramming (Jin, Wang, Ma, Chu, Zhang, Shi, Chen, Liang, Li, Pan, Wen, "Time-LLM:
    Time Series Forecasting by Reprogramming Large Language Models", ICLR 2024, arXiv:2310.01728, Eq. 1-2).

    Each variable is instance-normalised and cut into P patches (length L_p, stride S); a circular 1-D conv
    (kernel 3) embeds them, X_P (P, d_m). Text prototypes E' = W_E E (V' × D) are learned linear combinations
    of the frozen vocabulary's embeddings E (V × D). Multi-head cross-attention with queries from the patches
    and keys/values from the prototypes, projected to the LM width D:

        Z^(k) = softmax(Q^(k) K^(k)ᵀ / √d_k) V^(k),  Q = X_P W_Q, K = E' W_K, V = E' W_V;   O = [Z^(1..H)] W_O

    Output: the patch sequence (B·N, P, D), the original tokens of the embedding state. Trainable:
    3·L_p·d_m + V'·V + V' + (d_m + 1)·H·d_k + 2·(D + 1)·H·d_k + (H·d_k + 1)·D.
    """

    configuration = Configuration.LEARNABLE
    operator = Operator.PARAMETRIC
    location = Location.EMBEDDING

    def __init__(
        self,
        embedding: nn.Embedding,
        patch_length: int = 16,
        stride: int = 8,
        d_model: int = 32,
        num_heads: int = 8,
        key_dim: int | None = None,
        num_prototypes: int = 1000,
        normalise: bool = True,
    ):
        super().__init__()
        if not isinstance(embedding, nn.Embedding):
            raise TypeError(f"embedding: expected the frozen model's nn.Embedding, got {type(embedding).__name__}")
        vocab, width = embedding.weight.shape
        object.__setattr__(self, "_embedding", embedding)
        key_dim = key_dim or max(1, d_model // num_heads)
        self.patch_length, self.stride, self.d_model = patch_length, stride, d_model
        self.num_heads, self.key_dim = num_heads, key_dim
        self.vocab_size, self.width, self.normalise = vocab, width, normalise
        self.num_prototypes = min(num_prototypes, vocab)
        self.patch_embedding = nn.Conv1d(patch_length, d_model, 3, padding=1, padding_mode="circular", bias=False)
        self.prototypes = nn.Linear(vocab, self.num_prototypes)
        self.query = nn.Linear(d_model, num_heads * key_dim)
        self.key = nn.Linear(width, num_heads * key_dim)
        self.value = nn.Linear(width, num_heads * key_dim)
        self.out = nn.Linear(num_heads * key_dim, width)

    def num_patches(self, length: int) -> int:
        return (length - self.patch_length) // self.stride + 2

    def text_prototypes(self) -> Tensor:
        """E' (V', D): learned linear combinations of the frozen word embeddings."""
        table = self._embedding.weight
        return self.prototypes(table.T.to(self.prototypes.weight.dtype)).T

    def forward(self, state: EmbeddingState) -> EmbeddingState:
        series = state.extra.get("series")
        if series is None:
            raise InterfaceError(
                "PatchReprogramming: needs SeriesLanguageModelAdapter (no 'series' in the embedding state)"
            )
        B, N, L = series.shape
        if L < self.patch_length:
            raise ShapeError(f"x: series of length {L} is shorter than patch_length={self.patch_length}")
        flat = series.reshape(B * N, L).float()
        loc = torch.zeros(B * N, 1, device=flat.device)
        scale = torch.ones(B * N, 1, device=flat.device)
        if self.normalise:
            flat, loc, scale = _instance_normalise(flat)
        patches = _patches(flat, self.patch_length, self.stride)  # (M, P, L_p)
        embedded = self.patch_embedding(patches.transpose(1, 2)).transpose(1, 2)  # (M, P, d_m)
        prototypes = self.text_prototypes()
        M, P, _ = embedded.shape
        H, dk = self.num_heads, self.key_dim
        q = self.query(embedded).view(M, P, H, dk).transpose(1, 2)
        k = self.key(prototypes).view(-1, H, dk).transpose(0, 1)
        v = self.value(prototypes).view(-1, H, dk).transpose(0, 1)
        attention = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dk), dim=-1)  # (M, H, P, V')
        mixed = (attention @ v).transpose(1, 2).reshape(M, P, H * dk)
        tokens = self.out(mixed).to(state.embeds.dtype)
        extra = {
            **state.extra,
            "loc": loc.view(B, N, 1),
            "scale": scale.view(B, N, 1),
            "normalised_series": flat.view(B, N, L),
        }
        mask = torch.ones(M, P, dtype=torch.long, device=tokens.device)
        return EmbeddingState(embeds=tokens, attention_mask=mask, extra=extra)

    def symbolic(self) -> SymbolicForm:
        Lp, dm, V, Vp, H, dk, D = symbols("L_p d_m V V' H d_k D")
        count = 3 * Lp * dm + Vp * V + Vp + (dm + 1) * H * dk + 2 * (D + 1) * H * dk + (H * dk + 1) * D
        attention = op("Attn", r"\operatorname{Attn}")
        return SymbolicForm(
            expression=attention(op("patch")(x), sp.Symbol("E'")),
            parameter_count=count,
            shapes={
                Lp: self.patch_length,
                dm: self.d_model,
                V: self.vocab_size,
                Vp: self.num_prototypes,
                H: self.num_heads,
                dk: self.key_dim,
                D: self.width,
            },
            description="patch embeddings reprogrammed by cross-attention onto text prototypes",
        )

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """Bare f reads the L = N·P patch tokens this part makes (f cannot read a series); the part's own work per
        patch: the conv ``6·L_p·d_m``, the query ``2·d_m·H·d_k``, attention over the V' prototypes ``4·H·d_k·V'``
        and the output ``2·H·d_k·D``; per batch, the prototypes ``2·D·V·V'`` and their keys/values ``4·V'·D·H·d_k``."""
        Lp, dm, V, Vp, H, dk, D = symbols("L_p d_m V V' H d_k D")
        shapes = {Lp: self.patch_length, dm: self.d_model, V: self.vocab_size, Vp: self.num_prototypes}
        shapes |= {H: self.num_heads, dk: self.key_dim, D: self.width}
        per_patch = 6 * Lp * dm + 2 * dm * H * dk + 4 * H * dk * Vp + 2 * H * dk * D
        patches = InferenceOverhead(flops=L_QUERY * per_patch, shapes={**context.shapes, **shapes})
        return patches + once_per_batch(2 * D * V * Vp + 4 * Vp * D * H * dk, shapes, context, "text prototypes")


def series_statistics_prompt(series: Tensor, description: str, horizon: int, top_lags: int = 5) -> list[str]:
    """Time-LLM's prompt-as-prefix text per series (B', L): dataset description, task, input statistics."""
    prompts = []
    length = series.shape[-1]
    flat = series.reshape(-1, length).float()
    spectrum = torch.fft.rfft(flat - flat.mean(dim=-1, keepdim=True), dim=-1)
    autocorrelation = torch.fft.irfft(spectrum * spectrum.conj(), n=length, dim=-1)
    for row, acf in zip(flat, autocorrelation):
        lags = torch.topk(acf[1:], min(top_lags, max(1, length - 1))).indices + 1
        trend = "upward" if float(row[1:].diff().sum() if length > 2 else row.diff().sum()) > 0 else "downward"
        prompts.append(
            f"dataset description: {description} task description: forecast the next {horizon} steps given the "
            f"previous {length} steps information; input statistics: min value {float(row.min()):.3f}, max value "
            f"{float(row.max()):.3f}, median value {float(row.median()):.3f}, the trend of input is {trend}, "
            f"top {len(lags)} lags are : {[int(l) for l in lags]}"
        )
    return prompts


class PromptAsPrefix(InputManipulation):
    """Time-LLM's prompt-as-prefix: a fixed natural-language prompt (dataset description, task instruction and
    statistics of each input series) is tokenised, embedded by the frozen embedding table and prepended:
    ``[E(prompt(x)); O]``. Fixed: no trainable parameters. ``max_length`` truncates the prompt.
    """

    configuration = Configuration.FIXED
    operator = Operator.CONCATENATIVE
    location = Location.EMBEDDING

    def __init__(
        self,
        embedding: nn.Embedding,
        tokenizer: Any,
        description: str = "",
        horizon: int = 1,
        statistics: bool = True,
        max_length: int = 128,
    ):
        super().__init__()
        if tokenizer is None:
            raise ValueError("tokenizer: the prompt-as-prefix needs the language model's tokenizer")
        object.__setattr__(self, "_embedding", embedding)
        self.tokenizer, self.description, self.horizon = tokenizer, description, horizon
        self.statistics, self.max_length = statistics, max_length

    def prompts(self, series: Tensor) -> list[str]:
        flat = series.reshape(-1, series.shape[-1])
        if self.statistics:
            return series_statistics_prompt(flat, self.description, self.horizon)
        text = f"dataset description: {self.description} task description: forecast the next {self.horizon} steps"
        return [text] * flat.shape[0]

    def encode(self, prompts: list[str], device: torch.device) -> tuple[Tensor, Tensor]:
        """Token ids and mask (B', T_p), right-padded by hand (many causal-LM tokenizers have no pad token)."""
        rows = [self.tokenizer(p, truncation=True, max_length=self.max_length)["input_ids"] for p in prompts]
        length = max(len(r) for r in rows)
        ids = torch.zeros(len(rows), length, dtype=torch.long)
        mask = torch.zeros(len(rows), length, dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.as_tensor(row, dtype=torch.long)
            mask[i, : len(row)] = 1
        return ids.to(device), mask.to(device)

    def forward(self, state: EmbeddingState) -> EmbeddingState:
        series = state.extra.get("normalised_series", state.extra.get("series"))
        if series is None:
            raise InterfaceError("PromptAsPrefix: needs the series in the embedding state (SeriesLanguageModelAdapter)")
        ids, mask = self.encode(self.prompts(series), state.embeds.device)
        self.last_length = int(ids.shape[1])
        if ids.shape[0] != state.batch_size:
            raise ShapeError(f"PromptAsPrefix: {ids.shape[0]} prompts for a batch of {state.batch_size} sequences")
        with torch.no_grad():
            prompt = self._embedding(ids).to(state.embeds.dtype)
        inserted = state.prepend(prompt)
        full_mask = torch.cat([mask.to(inserted.attention_mask.dtype), state.attention_mask], dim=1)
        return replace(inserted, attention_mask=full_mask)

    def symbolic(self) -> SymbolicForm:
        return SymbolicForm(
            expression=concat(op("E")(op("prompt")(x)), x),
            description="fixed prompt-as-prefix: description, task and input statistics",
        )

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """T_p more positions in each of the R = N rows of a query (the prompt, padded to the batch's longest: its
        statistics make its length data-dependent, so T_p is the last forward's; before one, ``max_length``)."""
        (length,) = symbols("T_p")
        value = getattr(self, "last_length", self.max_length)
        return context.extra_positions(length, {length: value}, "prompt-as-prefix tokens")


class SeriesHead(OutputAlignment):
    """Time-LLM's output projection: the first d_f features of the P patch states are flattened and mapped to
    the horizon, ``ŷ = W flatten(Z[:, :, :d_f]) + b`` per variable, then de-normalised with the input's location
    and scale. Input :class:`SeriesHidden` (B, N, P, D); output (B, H) for one variable, (B, N, H) otherwise.
    Trainable parameters: (P·d_f + 1)·H.
    """

    alignment = Alignment.LINEAR

    def __init__(self, num_patches: int, features: int, horizon: int, denormalise: bool = True):
        super().__init__()
        self.num_patches, self.features, self.horizon, self.denormalise = num_patches, features, horizon, denormalise
        self.linear = nn.Linear(num_patches * features, horizon)

    def forward(self, z: SeriesHidden) -> Tensor:
        hidden = z.hidden
        if hidden.dim() != 4 or hidden.shape[2] != self.num_patches:
            raise ShapeError(f"z: expected patch states (B, N, {self.num_patches}, D), got {tuple(hidden.shape)}")
        out = self.linear(hidden[..., : self.features].flatten(2).to(self.linear.weight.dtype))
        if self.denormalise:
            out = out * z.scale.to(out.dtype) + z.loc.to(out.dtype)
        return out[:, 0] if out.shape[1] == 1 else out

    def symbolic(self) -> SymbolicForm:
        P, d, H = symbols("P d_f H")
        W, b = sp.Symbol("W"), sp.Symbol("b")
        return SymbolicForm(
            expression=W * op("flatten")(z) + b,
            parameter_count=(P * d + 1) * H,
            shapes={P: self.num_patches, d: self.features, H: self.horizon},
        )

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """The linear head on each of the R = N variables: ``2·P·d_f·H`` FLOPs each."""
        P, d, H = symbols("P d_f H")
        shapes = {P: self.num_patches, d: self.features, H: self.horizon}
        return InferenceOverhead(flops=ROWS * 2 * P * d * H, shapes={**context.shapes, **shapes}, description="head")


# -- TEST -----------------------------------------------------------------------------------------------
class SeriesTokenEncoder(InputManipulation):
    """TEST's time-series tokens (Sun, Li, Li, Hong, "TEST: Text Prototype Aligned Embedding to Activate LLM's
    Ability for Time Series", ICLR 2024, arXiv:2308.08241): the series is cut into segments (length L_s, stride
    S) and a causal dilated conv encoder maps each to the LM width D, e_j = g_θ(x_{seg j}) (B·N, P, D).

    :meth:`alignment_loss` is the text-prototype alignment: each token embedding is pulled towards its most
    similar of the fixed text prototypes (word embeddings of ``prototype_ids``), by cosine similarity.
    Encoder: conv(1→w, k=3, d=1), conv(w→w, k=3, d=2), linear(w·L_s → D).
    Trainable: 3w + w + 3w² + w + (w·L_s + 1)·D.
    """

    configuration = Configuration.LEARNABLE
    operator = Operator.PARAMETRIC
    location = Location.EMBEDDING

    def __init__(
        self,
        embedding: nn.Embedding,
        segment_length: int = 8,
        stride: int = 8,
        width: int = 16,
        prototype_ids: Sequence[int] | None = None,
    ):
        super().__init__()
        object.__setattr__(self, "_embedding", embedding)
        self.segment_length, self.stride, self.width = segment_length, stride, width
        self.hidden_size = embedding.weight.shape[1]
        self.conv1 = nn.Conv1d(1, width, 3, dilation=1)
        self.conv2 = nn.Conv1d(width, width, 3, dilation=2)
        self.project = nn.Linear(width * segment_length, self.hidden_size)
        if prototype_ids is None:
            ids = torch.arange(min(embedding.num_embeddings, 32))
        else:
            ids = torch.as_tensor(prototype_ids)
        self.register_buffer("prototype_ids", ids.long())
        self._last_tokens: Tensor | None = None

    def encode(self, segments: Tensor) -> Tensor:
        """(M, P, L_s) → (M, P, D): causal (left-padded) dilated convolutions per segment, then a projection."""
        M, P, Ls = segments.shape
        h = segments.reshape(M * P, 1, Ls)
        h = F.relu(self.conv1(F.pad(h, (2, 0))))
        h = F.relu(self.conv2(F.pad(h, (4, 0))))
        return self.project(h.flatten(1)).view(M, P, -1)

    def forward(self, state: EmbeddingState) -> EmbeddingState:
        series = state.extra.get("series")
        if series is None:
            raise InterfaceError(
                "SeriesTokenEncoder: needs SeriesLanguageModelAdapter (no 'series' in the embedding state)"
            )
        B, N, L = series.shape
        flat, loc, scale = _instance_normalise(series.reshape(B * N, L).float())
        if L < self.segment_length:
            raise ShapeError(f"x: series of length {L} is shorter than segment_length={self.segment_length}")
        segments = flat.unfold(-1, self.segment_length, self.stride)
        tokens = self.encode(segments).to(state.embeds.dtype)
        self._last_tokens = tokens
        mask = torch.ones(tokens.shape[:2], dtype=torch.long, device=tokens.device)
        extra = {**state.extra, "loc": loc.view(B, N, 1), "scale": scale.view(B, N, 1)}
        return EmbeddingState(embeds=tokens, attention_mask=mask, extra=extra)

    def alignment_loss(self, tokens: Tensor | None = None) -> Tensor:
        """1 − mean_j max_k cos(e_j, prototype_k): the text-prototype alignment of the last (or given) tokens."""
        tokens = self._last_tokens if tokens is None else tokens
        if tokens is None:
            raise RuntimeError("alignment_loss: run a forward first or pass tokens")
        prototypes = self._embedding.weight[self.prototype_ids].detach()
        cos = F.normalize(tokens.float(), dim=-1) @ F.normalize(prototypes.float(), dim=-1).T
        return 1.0 - cos.max(dim=-1).values.mean()

    def symbolic(self) -> SymbolicForm:
        w, Ls, D = symbols("w L_s D")
        count = 3 * w + w + 3 * w**2 + w + (w * Ls + 1) * D
        return SymbolicForm(
            expression=op("g_theta", r"g_{\theta}")(op("segment")(x)),
            parameter_count=count,
            shapes={w: self.width, Ls: self.segment_length, D: self.hidden_size},
            description="causal conv encoder of series segments into the LM's embedding space",
        )

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """Bare f reads the L = N·P segment tokens this part makes (f cannot read a series); the encoder's work per
        segment: the two convolutions ``6·w·L_s + 6·w²·L_s`` and the projection ``2·w·L_s·D``."""
        w, Ls, D = symbols("w L_s D")
        shapes = {w: self.width, Ls: self.segment_length, D: self.hidden_size}
        per_segment = 6 * w * Ls + 6 * w**2 * Ls + 2 * w * Ls * D
        return InferenceOverhead(
            flops=L_QUERY * per_segment, shapes={**context.shapes, **shapes}, description="encoder"
        )


class SoftPrefix(InputManipulation):
    """Learned soft prompt of P vectors prepended at the embedding interface: ``[P; e]``. Trainable: P·D."""

    configuration = Configuration.LEARNABLE
    operator = Operator.CONCATENATIVE
    location = Location.EMBEDDING

    def __init__(self, length: int, hidden_size: int, init: Tensor | None = None, init_std: float = 0.02):
        super().__init__()
        if length < 1:
            raise ValueError(f"length: expected ≥ 1 prompt vectors, got {length}")
        value = torch.randn(length, hidden_size) * init_std if init is None else init.detach().clone().float()
        if value.shape != (length, hidden_size):
            raise ShapeError(f"init: expected shape ({length}, {hidden_size}), got {tuple(value.shape)}")
        self.prompt = nn.Parameter(value)

    def forward(self, state: EmbeddingState) -> EmbeddingState:
        return state.prepend(self.prompt.to(state.embeds.dtype))

    def symbolic(self) -> SymbolicForm:
        P, D = symbols("P D")
        return SymbolicForm(
            expression=concat(sp.Symbol("P"), x),
            parameter_count=P * D,
            shapes={P: self.prompt.shape[0], D: self.prompt.shape[1]},
            description="soft prompt prepended to the embeddings",
        )

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """P more positions in each row, through every layer."""
        (P,) = symbols("P")
        return context.extra_positions(P, {P: self.prompt.shape[0]}, "soft prompt positions")


class SeriesClassifierHead(OutputAlignment):
    """A linear classifier on pooled series states: ``ŷ = W flatten(z) + b`` with z (B, N, D) → (B, C_t).
    Trainable parameters: (N·D + 1)·C_t."""

    alignment = Alignment.LINEAR

    def __init__(self, num_variables: int, hidden_size: int, num_classes: int):
        super().__init__()
        self.num_variables, self.hidden_size, self.num_classes = num_variables, hidden_size, num_classes
        self.linear = nn.Linear(num_variables * hidden_size, num_classes)

    def forward(self, z: SeriesHidden) -> Tensor:
        hidden = z.hidden if isinstance(z, SeriesHidden) else z
        if hidden.dim() != 3 or hidden.shape[1:] != (self.num_variables, self.hidden_size):
            expected = f"(B, {self.num_variables}, {self.hidden_size})"
            raise ShapeError(f"z: expected pooled states {expected}, got {tuple(hidden.shape)}")
        return self.linear(hidden.flatten(1).to(self.linear.weight.dtype))

    def symbolic(self) -> SymbolicForm:
        N, D, Ct = symbols("N D C_t")
        W, b = sp.Symbol("W"), sp.Symbol("b")
        return SymbolicForm(
            expression=W * op("flatten")(z) + b,
            parameter_count=(N * D + 1) * Ct,
            shapes={N: self.num_variables, D: self.hidden_size, Ct: self.num_classes},
        )

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """The linear classifier: ``2·N·D·C_t`` FLOPs."""
        N, D, Ct = symbols("N D C_t")
        shapes = {N: self.num_variables, D: self.hidden_size, Ct: self.num_classes}
        return InferenceOverhead(flops=2 * N * D * Ct, elementwise=Ct, shapes=shapes, description="classifier")
