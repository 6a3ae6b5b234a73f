"""`Reprogrammer` = O_ω ∘ f ∘ I_{λ,τ,ℓ}: the composition, and the only place they meet.

Its parameters are those of the input manipulation(s) and the output alignment; the frozen
model is held outside the module tree, so ``parameters()``, ``state_dict()`` and optimisers never
see it, while ``.to(device)`` still moves it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Sequence

import sympy as sp
import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from .alignment import IdentityAlignment, OutputAlignment
from .axes import Access, Configuration, default_access, Location, Modality, Paradigm
from .frozen import FrozenModel
from .manipulation import InputManipulation
from .spec import Spec
from .symbolic import SymbolicForm, f, op, x, z

__all__ = ["Reprogrammer", "LEARNED_WEIGHTS", "LEARNED_CONFIG"]

LEARNED_WEIGHTS = "reprogrammer.safetensors"
LEARNED_CONFIG = "reprogrammer.json"

_EMBED = op("E", "E")


class Reprogrammer(nn.Module):
    """ŷ = O_ω(f(I_{λ,τ,ℓ}(x))).

    Args:
        model: the pretrained network (wrapped in :class:`FrozenModel` if it is not already).
        input: one input manipulation, several (applied in order, each at its own location), or none.
        output: the output alignment; identity when omitted.
        paradigm: the community the method comes from (model reprogramming, prompt tuning, prompt instruction).
        access: what the method needs from f (:class:`Access`); ``gradient`` when anything in front of f
            is learnable, else ``hidden-states`` when a part acts on hidden states, else ``scores``.
        modality, task_modality: the model's data and, for cross-modal methods, the task's.
        name: a readable name (the catalog id for reference implementations).
    """

    def __init__(
        self,
        model: nn.Module,
        input: InputManipulation | Sequence[InputManipulation] | None = None,
        output: OutputAlignment | None = None,
        *,
        paradigm: Paradigm | str,
        access: Access | str | None = None,
        modality: Modality | str = Modality.GENERAL,
        task_modality: Modality | str | None = None,
        name: str | None = None,
    ):
        super().__init__()
        frozen = model if isinstance(model, FrozenModel) else FrozenModel(model)
        object.__setattr__(self, "_frozen", frozen)  # not a submodule: never trained, never saved
        inputs = [] if input is None else [input] if isinstance(input, nn.Module) else list(input)
        if not inputs:
            raise ValueError("input: a reprogrammer needs at least one InputManipulation (fixed ones included)")
        for index, manipulation in enumerate(inputs):
            if not isinstance(manipulation, InputManipulation):
                raise TypeError(f"input[{index}]: expected an InputManipulation, got {type(manipulation).__name__}")
        output = IdentityAlignment() if output is None else output
        if not isinstance(output, OutputAlignment):
            raise TypeError(f"output: expected an OutputAlignment, got {type(output).__name__}")
        self.inputs = nn.ModuleList(inputs)
        self.output = output
        self.paradigm = Paradigm.parse(paradigm, field="paradigm")
        self.modality = Modality.parse(modality, field="modality")
        self.task_modality = None if task_modality is None else Modality.parse(task_modality, field="task_modality")
        self._access = None if access is None else Access.parse(access, field="access")
        self.name = name or type(self).__name__
        missing = {m.location for m in inputs} - set(frozen.locations)
        if missing:
            from .errors import InterfaceError

            raise InterfaceError(
                f"input: acts on {sorted(l.value for l in missing)}, but the model's adapter "
                f"{type(frozen.adapter).__name__} exposes only {sorted(l.value for l in frozen.locations)}"
            )
        self.spec  # validate the coordinates against the definition now, not at the first step

    # -- composition ----------------------------------------------------------------------
    @property
    def frozen(self) -> FrozenModel:
        return self._frozen

    def source_outputs(self, x: Any) -> Any:
        """z = f(I(x)): the frozen model's readout on the manipulated input."""
        return self._frozen(x, list(self.inputs))

    def forward(self, x: Any) -> Any:
        return self.output(self.source_outputs(x))

    def forward_with_source(self, x: Any) -> tuple[Any, Any]:
        """``(ŷ, z)``: the prediction and the frozen model's outputs it came from."""
        source = self.source_outputs(x)
        return self.output(source), source

    def train(self, mode: bool = True) -> "Reprogrammer":
        super().train(mode)
        self._frozen.train(False)
        return self

    def _apply(self, fn, recurse: bool = True):
        self._frozen._apply(fn, recurse)
        return super()._apply(fn, recurse)

    @property
    def device(self) -> torch.device:
        return self._frozen.device

    # -- the definition -------------------------------------------------------------------
    @property
    def configuration(self) -> tuple[Configuration, ...]:
        found = {m.configuration for m in self.inputs}
        return tuple(sorted(found, key=list(Configuration).index))

    @property
    def access(self) -> Access:
        if self._access is not None:
            return self._access
        return default_access(self.configuration, [m.location for m in self.inputs])

    @property
    def spec(self) -> Spec:
        """The coordinates declared by the parts, with the measured parameter counts, validated."""
        inputs = list(self.inputs)
        # a part may declare several operators as a tuple (GPF-plus: x + Σ_j α_j(x) p_j is additive and parametric)
        operators = {o for m in inputs for o in (m.operator if isinstance(m.operator, tuple) else (m.operator,))}
        return Spec(
            configuration=self.configuration,
            operator=sorted(operators),
            location=sorted({m.location for m in inputs}),
            alignment=[self.output.alignment],
            paradigm=self.paradigm,
            access=self.access,
            modality=self.modality,
            task_modality=self.task_modality,
            input_parameters=sum(m.trainable_parameters for m in inputs),
            alignment_parameters=self.output.trainable_parameters,
        )

    def parameter_count(self) -> int:
        """Trainable parameters measured on the modules (I and O only)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def symbolic_parts(self) -> list[tuple[str, SymbolicForm]]:
        return [(f"I{i}:{type(m).__name__}", m.symbolic()) for i, m in enumerate(self.inputs)] + [
            (f"O:{type(self.output).__name__}", self.output.symbolic())
        ]

    def symbolic_parameter_count(self) -> sp.Expr:
        """The total count as a sympy expression in the parts' shape symbols."""
        return sp.Add(*[form.parameter_count for _, form in self.symbolic_parts()])

    def evaluated_parameter_count(self) -> int:
        """The symbolic count evaluated at the real shapes (equals :meth:`parameter_count`)."""
        return sum(form.evaluate_parameter_count() for _, form in self.symbolic_parts())

    def parameter_share(self) -> float:
        """Trainable parameters as a fraction of f's parameters."""
        return self.parameter_count() / max(1, self._frozen.parameter_count)

    def expression(self) -> sp.Basic:
        """ŷ as one sympy expression: O's formula with z := f(I(x)) at the manipulations' locations."""
        inner: sp.Basic = x
        by_location = {loc: [m for m in self.inputs if m.location is loc] for loc in Location}
        for m in by_location[Location.INPUT]:
            inner = m.symbolic().expression.subs(x, inner)
        if by_location[Location.EMBEDDING]:
            inner = _EMBED(inner)
            for m in by_location[Location.EMBEDDING]:
                inner = m.symbolic().expression.subs(x, inner)
        model: sp.Basic = f(inner)
        for m in by_location[Location.HIDDEN]:
            hidden = sp.Symbol(r"h_{\ell}")
            edit = m.symbolic().expression.subs(x, hidden)
            model = op("f_hidden", "f")(inner, sp.Eq(hidden, edit, evaluate=False))
        return self.output.symbolic().expression.subs(z, model)

    def latex(self) -> str:
        """LaTeX of ``\\hat{y} = O_ω(f(I_{λ,τ,ℓ}(x)))`` with the concrete operator."""
        return r"\hat{y} = " + sp.latex(self.expression())

    def describe(self) -> dict[str, Any]:
        spec = self.spec
        return {
            "name": self.name,
            "coordinates": spec.coordinates_str(),
            "paradigm": str(spec.paradigm),
            "access": str(spec.access),
            "trainable_parameters": self.parameter_count(),
            "model_parameters": self._frozen.parameter_count,
            "share_of_model": self.parameter_share(),
            "latex": self.latex(),
        }

    # -- persistence: the learned parts only ------------------------------------------------
    def learned_state(self) -> dict[str, Tensor]:
        """Parameters and buffers of I and O (never the frozen model), contiguous, on the CPU."""
        return {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items() if v is not None}

    def save_learned(self, directory: str | Path, *, overwrite: bool = False) -> Path:
        """Write ``reprogrammer.safetensors`` and ``reprogrammer.json`` (spec, parts) to ``directory``.

        Refuses to overwrite existing files unless ``overwrite=True``.
        """
        directory = Path(directory)
        weights, config = directory / LEARNED_WEIGHTS, directory / LEARNED_CONFIG
        existing = [p for p in (weights, config) if p.exists()]
        if existing and not overwrite:
            raise FileExistsError(f"directory: {existing[0]} exists; pass overwrite=True to replace it")
        directory.mkdir(parents=True, exist_ok=True)
        spec = self.spec
        metadata = {
            "name": self.name,
            "inputs": [type(m).__qualname__ for m in self.inputs],
            "output": type(self.output).__qualname__,
            "spec": json.loads(spec.model_dump_json()),
            "frozen_model_fingerprint": self._frozen.fingerprint(),
        }
        save_file(self.learned_state(), str(weights), metadata={"name": self.name})
        config.write_text(json.dumps(metadata, indent=2) + "\n")
        return weights

    def load_learned(self, path: str | Path, *, strict: bool = True) -> "Reprogrammer":
        """Load learned parts saved by :meth:`save_learned` (a directory or the ``.safetensors`` file)."""
        path = Path(path)
        weights = path / LEARNED_WEIGHTS if path.is_dir() else path
        if not weights.exists():
            raise FileNotFoundError(f"path: no {LEARNED_WEIGHTS} at {path}")
        state = load_file(str(weights), device=str(self.device))
        own = self.state_dict()
        if strict:
            missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
            if missing or unexpected:
                raise KeyError(f"path: {weights} does not match this reprogrammer (missing {missing}, unexpected {unexpected})")
            wrong = [k for k in own if own[k] is not None and tuple(own[k].shape) != tuple(state[k].shape)]
            if wrong:
                k = wrong[0]
                raise ValueError(f"path: tensor {k!r} has shape {tuple(state[k].shape)}, expected {tuple(own[k].shape)}")
        self.load_state_dict(state, strict=strict)
        return self

    def extra_repr(self) -> str:
        return f"name={self.name!r}, {self.spec.coordinates_str()}, frozen={self._frozen.extra_repr()}"

    def trainable_named_parameters(self) -> Iterable[tuple[str, nn.Parameter]]:
        return ((n, p) for n, p in self.named_parameters() if p.requires_grad)
