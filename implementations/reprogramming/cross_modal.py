"""Cross-modal reprogramming parts: the target task's data is not the frozen model's.

* :class:`TokenImageProgram`: token sequences → images (Neekhara et al., WACV 2022);
* :class:`SeriesProgram`: time series → waveform-like input of an acoustic model (Voice2Series, ICML 2021);
* :class:`VocabularyRemap`: target-vocabulary tokens → combinations of the source model's token embeddings
  (Neekhara et al. EMNLP 2019; R2DL, Vinod et al. 2020; ReprogBERT, Melnyk et al. ICML 2023);
* time series → a frozen causal LM (Time-LLM, TEST): :mod:`.series_language_model`.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import sympy as sp
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reprogrammability.framework.axes import Configuration, Location, Operator
from reprogrammability.framework.cost import L_QUERY, InferenceOverhead, OverheadContext
from reprogrammability.framework.errors import InterfaceError, ShapeError
from reprogrammability.framework.interfaces import EmbeddingState
from reprogrammability.framework.manipulation import InputManipulation
from reprogrammability.framework.symbolic import SymbolicForm, odot, op, symbols, x

from .programs import Normalize

__all__ = [
    "TokenImageProgram",
    "SeriesProgram",
    "VocabularyRemap",
]

_normalize = op("N", r"\mathcal{N}")
_tanh = op("tanh", r"\tanh")
_pad = op("pad")


# -- token sequences into an image model ------------------------------------------------------------
class TokenImageProgram(InputManipulation):
    """Cross-modal adversarial reprogramming (Neekhara, Hussain, Du, Dubnov, Koushanfar, McAuley, WACV 2022,
    arXiv:2102.07325): every token of the target sequence looks up a learned p × p × C patch, the patches
    fill a g_r × g_c grid in reading order (positions past the sequence hold the ``pad_token_id`` patch):

        x' = N(½(tanh(grid(Θ[x])) + 1)),   Θ ∈ R^{V × C × p × p}

    Input: token ids (B, T) with T ≤ g_r·g_c; output: an image (B, C, g_r·p, g_c·p) for the frozen classifier.
    Trainable parameters: V·C·p².
    """

    configuration = Configuration.LEARNABLE
    operator = Operator.PARAMETRIC
    location = Location.INPUT

    def __init__(
        self,
        vocab_size: int,
        patch_size: int = 16,
        grid: int | tuple[int, int] = 14,
        channels: int = 3,
        mean: Sequence[float] = (0.0, 0.0, 0.0),
        std: Sequence[float] = (1.0, 1.0, 1.0),
        pad_token_id: int = 0,
        init_std: float = 0.1,
    ):
        super().__init__()
        rows, cols = (grid, grid) if isinstance(grid, int) else grid
        if vocab_size < 1 or patch_size < 1 or rows < 1 or cols < 1:
            raise ValueError("vocab_size, patch_size, grid: expected positive sizes")
        if not 0 <= pad_token_id < vocab_size:
            raise ValueError(f"pad_token_id: expected 0..{vocab_size - 1}, got {pad_token_id}")
        self.vocab_size, self.patch_size, self.grid, self.channels = vocab_size, patch_size, (rows, cols), channels
        self.pad_token_id = pad_token_id
        self.patches = nn.Parameter(torch.randn(vocab_size, channels, patch_size, patch_size) * init_std)
        self.normalize = Normalize(mean, std)

    @property
    def max_length(self) -> int:
        return self.grid[0] * self.grid[1]

    def forward(self, tokens: Tensor) -> Tensor:
        if not isinstance(tokens, Tensor) or tokens.dim() != 2 or tokens.dtype not in (torch.long, torch.int):
            raise ShapeError(f"x: expected token ids of shape (B, T), got {getattr(tokens, 'shape', type(tokens))}")
        B, T = tokens.shape
        if T > self.max_length:
            raise ShapeError(f"x: sequences of {T} tokens exceed the {self.grid[0]}×{self.grid[1]} patch grid")
        if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= self.vocab_size):
            raise ValueError(f"x: token ids must lie in 0..{self.vocab_size - 1}")
        ids = F.pad(tokens.long(), (0, self.max_length - T), value=self.pad_token_id)
        rows, cols = self.grid
        p, C = self.patch_size, self.channels
        patches = self.patches[ids]  # (B, R·Q, C, p, p)
        image = patches.view(B, rows, cols, C, p, p).permute(0, 3, 1, 4, 2, 5).reshape(B, C, rows * p, cols * p)
        return self.normalize((torch.tanh(image) + 1.0) / 2.0)

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """Looks up one learned patch per token to build f's input image: a gather, no FLOPs."""
        return InferenceOverhead(description="token-to-patch lookup")

    def symbolic(self) -> SymbolicForm:
        V, C, p = symbols("V C p")
        theta = sp.IndexedBase(r"\Theta")
        grid = op("grid")
        return SymbolicForm(
            expression=_normalize(_tanh(grid(theta[x]))),
            parameter_count=V * C * p**2,
            shapes={V: self.vocab_size, C: self.channels, p: self.patch_size},
            description="a learned image patch per token, arranged on a grid",
        )


# -- time series into an acoustic model ---------------------------------------------------------------
class SeriesProgram(InputManipulation):
    """Voice2Series (Yang, Tsai, Chen, ICML 2021, arXiv:2106.09296, Eq. 2): a univariate or multivariate series
    x (B, L) or (B, c, L) becomes a waveform of the acoustic model's length T:

        x' = pad(x) + M ⊙ δ           (``placement="pad"``: the series at the start, δ on the padding, M = 0 on x)
        x' = repeat(x) + δ            (``placement="repeat"``: the series tiled over T, δ everywhere)

    δ (c, T) is trainable; output (B, c, T). Trainable parameters: c·T.
    """

    configuration = Configuration.LEARNABLE
    operator = Operator.ADDITIVE
    location = Location.INPUT

    def __init__(self, series_length: int, target_length: int, channels: int = 1, placement: str = "pad"):
        super().__init__()
        if placement not in ("pad", "repeat"):
            raise ValueError(f"placement: expected 'pad' or 'repeat', got {placement!r}")
        if not 0 < series_length <= target_length:
            raise ValueError(f"series_length: expected 1..{target_length} (the target length), got {series_length}")
        self.series_length, self.target_length = series_length, target_length
        self.channels, self.placement = channels, placement
        mask = torch.ones(1, target_length)
        if placement == "pad":
            mask[:, :series_length] = 0
        self.register_buffer("mask", mask)
        self.delta = nn.Parameter(torch.zeros(channels, target_length))

    def forward(self, series: Tensor) -> Tensor:
        if series.dim() == 2:
            series = series.unsqueeze(1)
        if series.dim() != 3 or series.shape[1] != self.channels or series.shape[2] != self.series_length:
            raise ShapeError(
                f"x: expected a series of shape (B, {self.series_length}) or "
                f"(B, {self.channels}, {self.series_length}), "
                f"got {tuple(series.shape)}"
            )
        if self.placement == "pad":
            wave = F.pad(series, (0, self.target_length - self.series_length))
        else:
            repeats = math.ceil(self.target_length / self.series_length)
            wave = series.repeat(1, 1, repeats)[..., : self.target_length]
        return wave + (self.mask * self.delta).to(wave.dtype)

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """Places the series in f's input with an additive program: element-wise, no FLOPs."""
        return InferenceOverhead(description="element-wise series program")

    def symbolic(self) -> SymbolicForm:
        c, T = symbols("c T")
        M, delta = sp.Symbol("M"), sp.Symbol(r"\delta")
        place = _pad if self.placement == "pad" else op("repeat")
        return SymbolicForm(
            expression=place(x) + odot(M, delta),
            parameter_count=c * T,
            shapes={c: self.channels, T: self.target_length},
            description="series padded (or repeated) to the waveform length plus a masked additive program",
        )


# -- target vocabularies through a source model's embeddings ------------------------------------------
class VocabularyRemap(InputManipulation):
    """Target-vocabulary tokens as combinations of the frozen model's token embeddings E (V_s, D):

        e'_i = softmax(θ[x_i] / τ) E    (``mode="softmax"``: Neekhara et al., "Adversarial Reprogramming of
                                          Text Classification Neural Networks", EMNLP 2019, arXiv:1809.01829)
        e'_i = θ[x_i] E                 (``mode="linear"``: R2DL, Vinod, Chen, Das, arXiv:2012.03460;
                                          ReprogBERT, Melnyk et al., ICML 2023, arXiv:2210.07144)

    θ (V_t, V_s); target ids listed in ``passthrough`` keep their own source embedding (special tokens such as
    [PAD], [CLS], [MASK]). Acts on the embedding interface: the input ids (B, T) index the target vocabulary
    (V_t ≤ V_s). With ``gumbel`` the softmax samples Gumbel noise in training (the paper's discrete relaxation).
    Trainable parameters: V_t·V_s.
    """

    configuration = Configuration.LEARNABLE
    operator = Operator.PARAMETRIC
    location = Location.EMBEDDING

    def __init__(
        self,
        embedding: nn.Embedding,
        target_vocab_size: int,
        mode: str = "softmax",
        temperature: float = 1.0,
        passthrough: Sequence[int] = (),
        gumbel: bool = False,
        init_std: float = 0.01,
        seed: int = 0,
    ):
        super().__init__()
        if mode not in ("softmax", "linear"):
            raise ValueError(f"mode: expected 'softmax' or 'linear', got {mode!r}")
        if not isinstance(embedding, nn.Embedding):
            raise TypeError(f"embedding: expected the frozen model's nn.Embedding, got {type(embedding).__name__}")
        source_vocab = embedding.num_embeddings
        if not 0 < target_vocab_size <= source_vocab:
            raise ValueError(
                f"target_vocab_size: expected 1..{source_vocab} (the source vocabulary), got {target_vocab_size}"
            )
        object.__setattr__(self, "_embedding", embedding)  # the frozen table: read, never owned or trained
        self.mode, self.temperature, self.gumbel = mode, float(temperature), bool(gumbel)
        self.target_vocab_size, self.source_vocab_size = int(target_vocab_size), int(source_vocab)
        generator = torch.Generator().manual_seed(seed)
        theta = torch.randn(target_vocab_size, source_vocab, generator=generator) * init_std
        if mode == "linear":
            theta = theta / math.sqrt(source_vocab)
        self.theta = nn.Parameter(theta)
        keep = torch.zeros(target_vocab_size, dtype=torch.bool)
        for index in passthrough:
            if not 0 <= index < target_vocab_size:
                raise ValueError(f"passthrough: id {index} is outside the target vocabulary 0..{target_vocab_size - 1}")
            keep[index] = True
        self.register_buffer("passthrough", keep)

    @classmethod
    def of_model(cls, frozen: Any, config: Any, mode: str, **options: Any) -> "VocabularyRemap":
        """θ over the frozen model's own input embeddings, sized and seeded by a method's ``config``
        (``target_vocab_size``, ``passthrough``, ``seed``)."""
        return cls(
            frozen.model.get_input_embeddings(),
            config.target_vocab_size,
            mode=mode,
            passthrough=config.passthrough,
            seed=config.seed,
            **options,
        )

    def weights(self, ids: Tensor) -> Tensor:
        """(B, T, V_s) combination weights of the source embeddings for target ids (B, T)."""
        logits = self.theta[ids]
        if self.mode == "linear":
            return logits
        if self.gumbel and self.training:
            return F.gumbel_softmax(logits, tau=self.temperature, hard=False, dim=-1)
        return torch.softmax(logits / self.temperature, dim=-1)

    def forward(self, state: EmbeddingState) -> EmbeddingState:
        ids = state.extra.get("input_ids")
        if ids is None:
            raise InterfaceError("VocabularyRemap: the adapter's embedding state carries no 'input_ids'")
        if int(ids.max()) >= self.target_vocab_size:
            raise ValueError(f"x: token ids must index the target vocabulary 0..{self.target_vocab_size - 1}")
        if state.length != ids.shape[1]:
            raise InterfaceError("VocabularyRemap: must act first, on the unmodified token embeddings")
        table = self._embedding.weight
        remapped = self.weights(ids).to(table.dtype) @ table
        keep = self.passthrough[ids].unsqueeze(-1)
        embeds = torch.where(keep, state.embeds, remapped.to(state.embeds.dtype))
        return state.with_embeds(embeds)

    def regularization(self) -> Tensor:
        """‖θ‖₁ (R2DL's sparsity penalty; add ``weight · regularization()`` to the loss)."""
        return self.theta.abs().sum()

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """Each of the query's L tokens mixes the V_s source embeddings: a (L, V_s) @ (V_s, D) matmul,
        ``2·L·V_s·D`` FLOPs per query (no extra positions)."""
        Vs, D = symbols("V_s D")
        table = self._embedding.weight
        shapes = {Vs: table.shape[0], D: table.shape[1]}
        return InferenceOverhead(
            flops=2 * L_QUERY * Vs * D, shapes={**context.shapes, **shapes}, description="embedding remap"
        )

    def symbolic(self) -> SymbolicForm:
        Vt, Vs = symbols("V_t V_s")
        theta, E = sp.IndexedBase(r"\theta"), sp.Symbol("E")
        inner = op("softmax")(theta[x]) if self.mode == "softmax" else theta[x]
        return SymbolicForm(
            expression=inner * E,
            parameter_count=Vt * Vs,
            shapes={Vt: self.target_vocab_size, Vs: self.source_vocab_size},
            description=f"{self.mode} combination of the source vocabulary's embeddings per target token",
        )
