"""The text rows of ``nnr compare``: every method as a classifier ``texts -> (B, C)`` scores on one model f.

RCA (f frozen, wrapped in :class:`FrozenModel`; the project's registered methods): prompt tuning
(Lester et al. 2021), prefix tuning (Li & Liang 2021), P-tuning (Liu et al. 2021), in-context
learning with k demonstrations (Brown et al. 2020) on a causal LM; a soft prompt with a linear head
(ω = linear) on an encoder. PCA (a copy of f whose computation changes): full fine-tuning, a linear
probe on frozen features (last token of a causal LM, mean-pooled for an encoder), BitFit (Ben Zaken
et al. 2022), LoRA (Hu et al. 2022, through peft) and a residual bottleneck adapter after every
feed-forward block (Houlsby et al. 2019; peft 0.21 has no such adapter, so it is attached by
forward hooks here).

On a causal LM every method except the linear probe reads the same verbaliser (the label words'
next-token scores after the same template), so the rows differ only in what they train; on an
encoder (no LM head) every method reads a linear head on the mean-pooled features.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Sequence

import torch
from torch import Tensor, nn

from reprogrammability.framework.adapters.transformers import TextAdapter
from reprogrammability.framework.alignment import LinearAlignment
from reprogrammability.framework.frozen import FrozenModel
from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.prompt_tuning.verbalizer import Verbalizer

__all__ = [
    "TextBackbone",
    "TextTask",
    "BuiltMethod",
    "TextMethod",
    "TEXT_METHODS",
    "methods_for",
    "parameter_digest",
    "BottleneckAdapters",
    "AddedBiases",
]

Kind = Literal["causal", "encoder"]


@dataclass
class TextBackbone:
    """The pretrained f: a transformers causal LM (``kind="causal"``) or encoder (``"encoder"``)."""

    name: str
    kind: Kind
    model: nn.Module
    tokenizer: Any

    @property
    def parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())


@dataclass
class TextTask:
    """Raw sentences and labels of one task, with the template and label words the causal-LM rows read."""

    name: str
    classes: tuple[str, ...]
    train_texts: list[str]
    train_labels: Tensor
    test_texts: list[str]
    test_labels: Tensor
    label_words: list[str]
    template: str
    """``{text}`` → the query the LM continues with a label word (e.g. ``"Review: {text}\\nSentiment:"``)."""
    instruction: str = ""
    source: str = ""
    license: str = ""

    def templated(self, texts: Sequence[str]) -> list[str]:
        return [self.template.format(text=t) for t in texts]


@dataclass
class BuiltMethod:
    """One method ready to train: ``classifier(raw texts) -> (B, C)``, its trainable parameters, what must be
    stored per task, a check that f's own parameter tensors are unchanged, and its per-query overhead."""

    classifier: nn.Module
    trainable: list[nn.Parameter]
    stored: Callable[[], dict[str, Tensor]]
    f_unchanged: Callable[[], bool]
    extra_tokens: Callable[[Sequence[str]], float]
    reprogrammer: Reprogrammer | None = None
    bare: nn.Module | None = None
    """f without the method, same template and readout (the reference of the inference overhead)."""
    starts_as_bare: bool = False
    """Before training the classifier computes exactly what ``bare`` computes (zero-initialised LoRA B, adapter
    W_up and added biases, or f itself, all read by the same verbaliser): its step-0 accuracy is bare f's."""


@dataclass(frozen=True)
class TextMethod:
    """A row of the text table: identity, how it is filed, and how to build it on a backbone and task."""

    method: str
    label: str
    family: Literal["PCA", "RCA"]
    paradigm: str
    coordinates: str | None
    access: str
    f_weights: Literal["frozen", "added-modules", "trained"]
    kinds: tuple[Kind, ...]
    learning_rate: float
    build: Callable[[TextBackbone, TextTask, int], BuiltMethod]
    trains: bool = True
    notes: dict[str, str] = field(default_factory=dict)
    """What the row is, for the results' row notes: keyed by backbone kind, or ``"any"``."""

    def note(self, kind: str) -> str:
        return self.notes.get(kind, self.notes.get("any", ""))


# --------------------------------------------------------------------------------------------
# shared pieces


def parameter_digest(tensors: Sequence[Tensor]) -> str:
    """SHA-256 over the bytes of ``tensors`` (in order): f's fingerprint before and after training."""
    digest = hashlib.sha256()
    for tensor in tensors:
        digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _unchanged_check(model: nn.Module) -> Callable[[], bool]:
    """A check that ``model``'s current parameter tensors (f's own, held by reference) keep their values."""
    tensors = [p for _, p in sorted(model.named_parameters(remove_duplicate=True))]
    before = parameter_digest(tensors)
    return lambda: parameter_digest(tensors) == before


class Templated(nn.Module):
    """``texts -> inner(template(texts))``: a module that writes the task's template around each text."""

    def __init__(self, inner: nn.Module, template: Callable[[Sequence[str]], list[str]]):
        super().__init__()
        self.inner = inner
        self.template = template

    def forward(self, texts: Sequence[str]) -> Tensor:
        return self.inner(self.template(texts))


class OpenClassifier(nn.Module):
    """A PCA classifier: f (whose weights or modules train) read by a :class:`TextAdapter`, then a head.

    ``forward(texts)``: (B,) strings → the adapter's readout z (B, V) or (B, D) → ``head(z)`` (B, C).
    """

    def __init__(self, model: nn.Module, tokenizer: Any, readout: str, head: nn.Module):
        super().__init__()
        self.model = model
        self.head = head
        object.__setattr__(self, "adapter", TextAdapter(tokenizer=tokenizer, readout=readout))

    def forward(self, texts: Sequence[str]) -> Tensor:
        x = self.adapter.prepare(self.model, list(texts))
        return self.head(self.adapter.forward_input(self.model, x))


def _readout(backbone: TextBackbone) -> str:
    return "last" if backbone.kind == "causal" else "mean"


def _head(backbone: TextBackbone, task: TextTask, seed: int) -> nn.Module:
    """Verbaliser over the label words (causal LM), or a new seeded linear head on the pooled features."""
    if backbone.kind == "causal":
        return Verbalizer.from_words(backbone.tokenizer, task.label_words)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return LinearAlignment(_feature_dim(backbone), len(task.classes))


def _feature_dim(backbone: TextBackbone) -> int:
    return int(backbone.model.get_input_embeddings().weight.shape[1])


def _no_extra_tokens(texts: Sequence[str]) -> float:
    return 0.0


def _bare(backbone: TextBackbone, task: TextTask) -> nn.Module:
    """f as it ships, with the causal rows' template and verbaliser (or the encoder's pooled features and a
    random head): the reference the inference overhead is measured against."""
    frozen = FrozenModel(backbone.model, tokenizer=backbone.tokenizer, readout=_readout(backbone))
    head = _head(backbone, task, 0)
    return Templated(nn.Sequential(frozen, head), task.templated)


def _trainable_state(module: nn.Module) -> dict[str, Tensor]:
    return {n: p.detach().cpu().contiguous() for n, p in module.named_parameters() if p.requires_grad}


def _open_copy(backbone: TextBackbone) -> nn.Module:
    """A private copy of f for a PCA row (the shared f stays untouched for the other rows)."""
    model = copy.deepcopy(backbone.model)
    model.requires_grad_(False)
    return model


def _pca(
    backbone: TextBackbone, task: TextTask, seed: int, model: nn.Module, stored: Callable[[], dict[str, Tensor]]
) -> BuiltMethod:
    """Assemble a PCA row around ``model`` (a copy of f with its trainable parts set) and the row's head."""
    check = _unchanged_check(model)
    head = _head(backbone, task, seed)
    classifier = Templated(OpenClassifier(model, backbone.tokenizer, _readout(backbone), head), task.templated)
    trainable = [p for p in classifier.parameters() if p.requires_grad]
    return BuiltMethod(
        classifier,
        trainable,
        stored,
        check,
        _no_extra_tokens,
        bare=_bare(backbone, task),
        starts_as_bare=backbone.kind == "causal",  # the verbaliser; an encoder's new head is random
    )


# --------------------------------------------------------------------------------------------
# PCA


def build_full_fine_tuning(backbone: TextBackbone, task: TextTask, seed: int) -> BuiltMethod:
    """Every parameter of f trains (plus the head on an encoder); the stored adaptation is all of f."""
    model = _open_copy(backbone)
    model.requires_grad_(True)
    built = _pca(backbone, task, seed, model, lambda: {})
    built.stored = lambda: _trainable_state(built.classifier)
    return built


def build_linear_probe(backbone: TextBackbone, task: TextTask, seed: int) -> BuiltMethod:
    """A linear head on f's frozen features: the last token's final state (causal LM) or the mean-pooled one."""
    readout = "last_features" if backbone.kind == "causal" else "mean"
    frozen = FrozenModel(backbone.model, tokenizer=backbone.tokenizer, readout=readout)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        head = LinearAlignment(_feature_dim(backbone), len(task.classes))
    classifier = Templated(nn.Sequential(frozen, head), task.templated)
    check = _unchanged_check(backbone.model)
    return BuiltMethod(
        classifier,
        list(head.parameters()),
        lambda: _trainable_state(head),
        check,
        _no_extra_tokens,
        bare=_bare(backbone, task),
    )


class AddedBiases(nn.Module):
    """Zero-initialised output biases added (by forward hooks) to every ``nn.Linear`` of f that has none.

    BitFit trains only f's bias terms; a model without biases (Llama's linear layers) gets new ones
    here, so the row trains the same kind of parameters. ``remove()`` detaches the hooks.
    """

    def __init__(self, model: nn.Module, layers: Sequence[nn.Module]):
        super().__init__()
        self.biases = nn.ParameterList()
        self._handles = []
        for layer in layers:
            for module in layer.modules():
                if isinstance(module, nn.Linear) and module.bias is None:
                    bias = nn.Parameter(torch.zeros(module.out_features))
                    self.biases.append(bias)
                    self._handles.append(module.register_forward_hook(lambda m, a, out, b=bias: out + b))
        if not self._handles:
            raise ValueError(f"model: {type(model).__name__} has no bias-free linear layer to add biases to")

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()


def _layers(model: nn.Module) -> list[nn.Module]:
    layers = TextAdapter().layers(model)
    if not layers:
        raise ValueError(f"model: found no transformer layers in {type(model).__name__}")
    return layers


def build_bitfit(backbone: TextBackbone, task: TextTask, seed: int) -> BuiltMethod:
    """BitFit: only bias terms train: f's own biases (BERT), or zero-initialised added ones (bias-free Llama)."""
    model = _open_copy(backbone)
    biases = [p for n, p in model.named_parameters() if n.endswith(".bias")]
    if biases:
        for p in biases:
            p.requires_grad_(True)
        built = _pca(backbone, task, seed, model, lambda: {})
    else:
        added = AddedBiases(model, _layers(model))
        built = _pca(backbone, task, seed, model, lambda: {})
        built.trainable = list(added.parameters()) + built.trainable
        built.classifier.added = added  # keeps the new biases with the classifier
    built.stored = lambda: _trainable_state(built.classifier)
    return built


def build_lora(backbone: TextBackbone, task: TextTask, seed: int, rank: int = 8, alpha: int = 16) -> BuiltMethod:
    """LoRA (peft) on the attention's query and value projections: W x + (α/r)·B A x, B = 0 at the start."""
    from peft import LoraConfig, get_peft_model, get_peft_model_state_dict

    model = _open_copy(backbone)
    targets = ["q_proj", "v_proj"] if backbone.kind == "causal" else ["query", "value"]
    check = _unchanged_check(model)  # f's own tensors; peft keeps them as the base layers
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        peft_model = get_peft_model(model, LoraConfig(r=rank, lora_alpha=alpha, target_modules=targets))
    inner = peft_model.base_model.model  # f with LoRA layers in place
    built = _pca(backbone, task, seed, inner, lambda: {})
    built.f_unchanged = check
    head = built.classifier.inner.head

    def stored() -> dict[str, Tensor]:
        state = {k: v.detach().cpu().contiguous() for k, v in get_peft_model_state_dict(peft_model).items()}
        state.update({f"head.{k}": v for k, v in _trainable_state(head).items()})
        return state

    built.stored = stored
    return built


class BottleneckAdapters(nn.Module):
    """Residual bottleneck adapters ``h + W_up σ(W_down h)`` after every layer's feed-forward block
    (Houlsby et al., ICML 2019, arXiv 1902.00751), W_down (m, D), W_up (D, m) zero-initialised so f is
    unchanged at the start. Attached to the feed-forward output by forward hooks: Llama's ``mlp``,
    BERT's ``output.dense``. Parameters: N·(2·D·m + m + D)."""

    def __init__(self, layers: Sequence[nn.Module], dim: int, bottleneck: int = 32):
        super().__init__()
        self.down = nn.ModuleList()
        self.up = nn.ModuleList()
        self._handles = []
        for index, layer in enumerate(layers):
            target = _feed_forward_output(layer, index)
            down, up = nn.Linear(dim, bottleneck), nn.Linear(bottleneck, dim)
            nn.init.zeros_(up.weight)
            nn.init.zeros_(up.bias)
            self.down.append(down)
            self.up.append(up)
            self._handles.append(target.register_forward_hook(lambda m, a, h, d=down, u=up: h + u(torch.relu(d(h)))))

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()


def _feed_forward_output(layer: nn.Module, index: int) -> nn.Module:
    if hasattr(layer, "mlp"):
        return layer.mlp
    output = getattr(layer, "output", None)
    if output is not None and hasattr(output, "dense"):
        return output.dense
    raise ValueError(f"layers[{index}]: {type(layer).__name__} has neither .mlp nor .output.dense to adapt")


def build_adapter(backbone: TextBackbone, task: TextTask, seed: int, bottleneck: int = 32) -> BuiltMethod:
    """Bottleneck adapters after every feed-forward block (f's own weights stay as they are)."""
    model = _open_copy(backbone)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        adapters = BottleneckAdapters(_layers(model), _feature_dim(backbone), bottleneck)
    built = _pca(backbone, task, seed, model, lambda: {})
    built.classifier.adapters = adapters
    built.trainable = list(adapters.parameters()) + built.trainable
    built.stored = lambda: _trainable_state(built.classifier)
    return built


# --------------------------------------------------------------------------------------------
# RCA


def _rca(reprogrammer: Reprogrammer, stored: Callable[[], dict[str, Tensor]], extra: int, bare: nn.Module, task):
    return BuiltMethod(
        Templated(reprogrammer, task.templated),
        [p for p in reprogrammer.parameters() if p.requires_grad],
        stored,
        lambda: (reprogrammer.frozen.assert_unchanged(), True)[1],
        lambda texts: float(extra),
        reprogrammer=reprogrammer,
        bare=bare,
    )


def build_prompt_tuning(backbone: TextBackbone, task: TextTask, seed: int, length: int = 8) -> BuiltMethod:
    """Soft prompt [P; E(x)] (L_p = 8, sampled-vocabulary initialisation) read by the verbaliser."""
    from reprogrammability.implementations.prompt_tuning import prompt_tuning

    rp = prompt_tuning.build(
        backbone.model, tokenizer=backbone.tokenizer, label_words=task.label_words, num_virtual_tokens=length, seed=seed
    )
    return _rca(rp, rp.learned_state, length, _bare(backbone, task), task)


def build_prefix_tuning(backbone: TextBackbone, task: TextTask, seed: int, length: int = 8) -> BuiltMethod:
    """Key/value prefixes at every layer, learned directly (no MLP reparameterisation: what trains is what is
    stored), the LM's own label-word scores out."""
    from reprogrammability.implementations.prompt_tuning import prefix_tuning

    rp = prefix_tuning.build(
        backbone.model,
        tokenizer=backbone.tokenizer,
        label_words=task.label_words,
        num_virtual_tokens=length,
        reparameterize=False,
        init_std=0.02,
        seed=seed,
    )
    return _rca(rp, rp.learned_state, length, _bare(backbone, task), task)


def build_p_tuning(
    backbone: TextBackbone, task: TextTask, seed: int, length: int = 8, hidden: int = 128
) -> BuiltMethod:
    """P-tuning: pseudo tokens through a small MLP prompt encoder; only g_θ(h) is stored after training."""
    from reprogrammability.implementations.prompt_tuning import p_tuning

    rp = p_tuning.build(
        backbone.model,
        tokenizer=backbone.tokenizer,
        label_words=task.label_words,
        num_virtual_tokens=length,
        encoder="mlp",
        encoder_hidden_size=hidden,
        init="sampled-vocabulary",
        seed=seed,
    )
    prompt = rp.inputs[0]
    return _rca(rp, lambda: prompt.to_soft_prompt().state_dict(), length, _bare(backbone, task), task)


def build_soft_prompt_linear(backbone: TextBackbone, task: TextTask, seed: int, length: int = 8) -> BuiltMethod:
    """A soft prompt in an encoder's input and a linear head on its mean-pooled features (ω = linear)."""
    from reprogrammability.implementations.prompt_tuning.soft_prompt import SoftPrompt, sampled_vocabulary_init

    frozen = FrozenModel(backbone.model, tokenizer=backbone.tokenizer, readout="mean")
    generator = torch.Generator().manual_seed(seed)
    prompt = SoftPrompt(sampled_vocabulary_init(backbone.model.get_input_embeddings(), length, generator=generator))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        head = LinearAlignment(_feature_dim(backbone), len(task.classes))
    rp = Reprogrammer(frozen, prompt, head, paradigm="prompt-tuning", modality="text", name="soft-prompt-linear")
    return _rca(rp, rp.learned_state, length, _bare(backbone, task), task)


def build_in_context(backbone: TextBackbone, task: TextTask, seed: int, k: int = 0) -> BuiltMethod:
    """k demonstrations from the training split (one balanced seeded draw for every query), label words
    scored by the frozen LM; nothing trains. The stored adaptation is the demonstration text (UTF-8)."""
    from reprogrammability.implementations.prompt_instruction import in_context_learning

    rp = in_context_learning.build(
        backbone.model,
        tokenizer=backbone.tokenizer,
        label_words=task.label_words,
        instruction=task.instruction,
        input_template=task.template,
        pool=(task.train_texts, task.train_labels.tolist()),
        k=k,
        selection="random",
        balanced=True,
        seed=seed,
    )
    tokenizer = backbone.tokenizer

    def extra_tokens(texts: Sequence[str]) -> float:
        counts = [
            len(tokenizer(_rendered(rp, t))["input_ids"]) - len(tokenizer(task.template.format(text=t))["input_ids"])
            for t in texts
        ]
        return float(sum(counts) / max(1, len(counts)))

    def stored() -> dict[str, Tensor]:
        demonstrations = _rendered(rp, "")
        return {"prompt_utf8": torch.tensor(list(demonstrations.encode("utf-8")), dtype=torch.uint8)}

    return BuiltMethod(
        rp,
        [],
        stored,
        lambda: (rp.frozen.assert_unchanged(), True)[1],
        extra_tokens,
        reprogrammer=rp,
        bare=_bare(backbone, task),
    )


def _rendered(rp: Reprogrammer, text: str) -> str:
    """The full prompt the LM reads for the query ``text`` (instruction, demonstrations, templated query)."""
    return str(rp.inputs[0]([text])[0])


# --------------------------------------------------------------------------------------------
# the table's rows

TEXT_METHODS: tuple[TextMethod, ...] = (
    TextMethod(
        "full-ft", "full fine-tuning", "PCA", "parameter-centric", None, "gradient", "trained",
        ("causal", "encoder"), 1e-5, build_full_fine_tuning,
        notes={"any": "every parameter of f trains (plus the new head on an encoder); the stored adaptation is all "
               "of f (tied embeddings once)"},
    ),
    TextMethod(
        "linear-probe", "linear probe", "PCA", "parameter-centric", None, "gradient", "frozen",
        ("causal", "encoder"), 1e-3, build_linear_probe,
        notes={"causal": "linear head on the frozen last token's final hidden state (576-d)",
               "encoder": "linear head on the frozen mean-pooled final hidden states"},
    ),
    TextMethod(
        "bitfit", "BitFit", "PCA", "parameter-centric", None, "gradient", "trained",
        ("causal", "encoder"), 1e-3, build_bitfit,
        notes={"causal": "SmolLM2's linear layers have no biases: zero-initialised output biases are added to every "
               "linear layer of every block and trained (BitFit's kind of parameter; f's own tensors unchanged)",
               "encoder": "f's own bias terms (LayerNorm β included) and the new head train (Ben Zaken et al. 2022)"},
    ),
    TextMethod(
        "lora", "LoRA (r=8, q/v)", "PCA", "parameter-centric", None, "gradient", "added-modules",
        ("causal", "encoder"), 1e-3, build_lora,
        notes={"any": "peft LoraConfig r=8, alpha=16 on the attention's query and value projections; stored: peft's "
               "adapter state dict (+ head on an encoder)"},
    ),
    TextMethod(
        "adapter", "bottleneck adapter (m=32)", "PCA", "parameter-centric", None, "gradient", "added-modules",
        ("causal", "encoder"), 1e-3, build_adapter,
        notes={"any": "peft 0.21 has no Houlsby-style bottleneck adapter, so h + W_up ReLU(W_down h) (m = 32, W_up "
               "zero-initialised) is attached after every feed-forward block by forward hooks"},
    ),
    TextMethod(
        "prompt-tuning", "prompt tuning (L_p=8)", "RCA", "prompt-tuning",
        "λ=learnable τ=concatenative ℓ=embedding ω=rule-based", "gradient", "frozen",
        ("causal",), 3e-2, build_prompt_tuning,
        notes={"any": "8 soft tokens before the templated text, sampled-vocabulary initialisation (Lester et al. "
               "2021), read by the verbaliser"},
    ),
    TextMethod(
        "prefix-tuning", "prefix tuning (L_p=8)", "RCA", "prompt-tuning",
        "λ=learnable τ=concatenative ℓ=hidden ω=identity", "gradient", "frozen",
        ("causal",), 1e-2, build_prefix_tuning,
        notes={"any": "8 key/value prefix positions at every layer, learned directly (no MLP reparameterisation, so "
               "what trains is what is stored), initial std 0.02; the LM's own label-word scores"},
    ),
    TextMethod(
        "p-tuning", "P-tuning (L_p=8, MLP encoder)", "RCA", "prompt-tuning",
        "λ=learnable τ=concatenative ℓ=embedding ω=rule-based", "gradient", "frozen",
        ("causal",), 1e-3, build_p_tuning,
        notes={"any": "8 pseudo tokens through an MLP prompt encoder (D -> 128 -> 128 -> D), all trained; only the "
               "encoder's output (8 x D) is stored"},
    ),
    TextMethod(
        "soft-prompt-linear", "soft prompt (L_p=8) + linear head", "RCA", "prompt-tuning",
        "λ=learnable τ=concatenative ℓ=embedding ω=linear", "gradient", "frozen",
        ("encoder",), 1e-2, build_soft_prompt_linear,
        notes={"any": "8 soft tokens in the encoder's input (sampled-vocabulary initialisation) and a linear head on "
               "the mean-pooled features (omega = linear), against the linear probe on the same features"},
    ),
    *(
        TextMethod(
            f"in-context-learning-k{k}", f"in-context learning (k={k})", "RCA", "prompt-instruction",
            "λ=fixed τ=concatenative ℓ=input ω=rule-based", "scores", "frozen",
            ("causal",), 0.0, lambda b, t, s, k=k: build_in_context(b, t, s, k=k), trains=False,
            notes={"any": "the instruction and k demonstrations (balanced over the classes, one draw per seed from "
                   "the training split) before the templated query; classes scored by the summed log-likelihood of "
                   "their label words; extra tokens = instruction + demonstrations"},
        )
        for k in (0, 4, 8)
    ),
)  # fmt: skip


def methods_for(kind: Kind, names: Sequence[str] | None = None) -> list[TextMethod]:
    """The rows that apply to a ``kind`` of backbone, optionally only those named (unknown names are an error)."""
    rows = [m for m in TEXT_METHODS if kind in m.kinds]
    if names is None:
        return rows
    known = {m.method for m in rows}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"methods: {unknown} do not apply to a {kind} model; choose from {sorted(known)}")
    return [m for m in rows if m.method in names]
