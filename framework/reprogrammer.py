"""`Reprogrammer` = O_ω ∘ f ∘ I_{λ,τ,ℓ}: the composition, and the only place they meet.

Its parameters are those of the input manipulation(s) and the output alignment; the frozen
model is held outside the module tree, so ``parameters()``, ``state_dict()`` and optimisers never
see it, while ``.to(device)`` still moves it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence, cast

import sympy as sp
import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from . import checks
from .alignment import IdentityAlignment, OutputAlignment
from .axes import Access, Configuration, Location, Modality, Paradigm, default_access
from .errors import SavedProgramError
from .frozen import FrozenModel
from .manipulation import InputManipulation
from .spec import Spec
from .symbolic import SymbolicForm, f, op, x, z

__all__ = ["Reprogrammer", "LEARNED_WEIGHTS", "LEARNED_CONFIG"]

LEARNED_WEIGHTS = "reprogrammer.safetensors"
LEARNED_CONFIG = "reprogrammer.json"
SAVE_FORMAT = 1
"""Version of the saved-program layout written by :meth:`Reprogrammer.save_learned`."""
_METADATA_FIELDS = ("format", "name", "inputs", "output", "spec", "frozen_model_fingerprint", "weights_sha256")
_MAX_METADATA_BYTES = 1 << 20

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

    _frozen: FrozenModel
    inputs: nn.ModuleList
    output: OutputAlignment

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
        _ = self.spec  # validate the coordinates against the definition now, not at the first step

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

    def _apply(self, fn: Callable[[Tensor], Tensor], recurse: bool = True) -> Reprogrammer:
        self._frozen._apply(fn, recurse)
        super()._apply(fn, recurse)  # type: ignore[no-untyped-call]  # torch's Module._apply has no annotations
        return self

    @property
    def manipulations(self) -> list[InputManipulation]:
        """:attr:`inputs` as a typed list (``nn.ModuleList`` is not generic; ``__init__`` admits only InputManipulations)."""
        return cast(list[InputManipulation], list(self.inputs))

    @property
    def device(self) -> torch.device:
        return self._frozen.device

    # -- the definition -------------------------------------------------------------------
    @property
    def configuration(self) -> tuple[Configuration, ...]:
        found = {m.configuration for m in self.manipulations}
        return tuple(sorted(found, key=list(Configuration).index))

    @property
    def access(self) -> Access:
        if self._access is not None:
            return self._access
        return default_access(self.configuration, [m.location for m in self.manipulations])

    @property
    def spec(self) -> Spec:
        """The coordinates declared by the parts, with the measured parameter counts, validated."""
        inputs = self.manipulations
        # a part may declare several operators as a tuple (GPF-plus: x + Σ_j α_j(x) p_j is additive and parametric)
        operators = {o for m in inputs for o in (m.operator if isinstance(m.operator, tuple) else (m.operator,))}
        return Spec(
            configuration=self.configuration,
            operator=tuple(sorted(operators)),
            location=tuple(sorted({m.location for m in inputs})),
            alignment=(self.output.alignment,),
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
        return [(f"I{i}:{type(m).__name__}", m.symbolic()) for i, m in enumerate(self.manipulations)] + [
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
        by_location = {loc: [m for m in self.manipulations if m.location is loc] for loc in Location}
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
        return r"\hat{y} = " + str(sp.latex(self.expression()))

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
        """Write the learned parts as one program: ``reprogrammer.safetensors`` + ``reprogrammer.json``.

        The json records the method (name, part classes), the validated Spec, the frozen model's
        fingerprint and the SHA-256 of the weights; :meth:`load_learned` checks all of them. Both files
        are written to a temporary folder beside ``directory`` and moved into place with one rename,
        so a run killed at any moment leaves either the old program or the new one, never a mix.
        ``directory`` must be new, empty or hold an earlier program (replaced only with
        ``overwrite=True``). Nothing non-finite is ever saved. Files get mode 0644 (under umask 022).
        """
        directory = Path(directory)
        state = self.learned_state()
        for key, tensor in state.items():
            checks.check_finite(tensor, f"learned tensor {key!r}", "refusing to save a program with NaN/inf")
        previous = _existing_program(directory)
        if previous and not overwrite:
            raise FileExistsError(f"directory: {directory / previous[0]} exists; pass overwrite=True to replace it")
        metadata = {
            "format": SAVE_FORMAT,
            "name": self.name,
            "inputs": [type(m).__qualname__ for m in self.inputs],
            "output": type(self.output).__qualname__,
            "spec": json.loads(self.spec.model_dump_json()),
            "frozen_model_fingerprint": self._frozen.fingerprint(),
        }
        directory.parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=f".{directory.name}.saving-", dir=directory.parent))
        try:
            weights = stage / LEARNED_WEIGHTS
            save_file(state, str(weights), metadata={"name": self.name})
            metadata["weights_sha256"] = _sha256(weights)
            (stage / LEARNED_CONFIG).write_text(json.dumps(metadata, indent=2) + "\n")
            mode = _output_mode()
            for file in (weights, stage / LEARNED_CONFIG):
                _sync(file)
                file.chmod(mode)
            stage.chmod(mode | 0o111 & ~_umask())
            _install(stage, directory, overwrite=overwrite)
        finally:
            if stage.exists():
                shutil.rmtree(stage, ignore_errors=True)
        return directory / LEARNED_WEIGHTS

    def load_learned(
        self, path: str | Path, *, strict: bool = True, allow_fingerprint_mismatch: bool = False
    ) -> "Reprogrammer":
        """Load a program saved by :meth:`save_learned` (its directory or its ``.safetensors`` file).

        Checks, each a :class:`SavedProgramError` naming the field: the weights' SHA-256 against the json
        (one save, not a mix of two), the method (name, part classes) and the Spec against this
        reprogrammer's, the frozen model's fingerprint (``allow_fingerprint_mismatch=True`` loads across
        fingerprints, for a user who knows the programs transfer), tensor names, shapes and dtypes, and
        finite values. ``strict=False`` loads the tensors both sides have and skips the method and Spec checks.
        """
        path = Path(path)
        weights = path / LEARNED_WEIGHTS if path.is_dir() else path
        if not weights.is_file():
            raise FileNotFoundError(f"path: no {LEARNED_WEIGHTS} at {path}")
        metadata = _read_metadata(weights.parent / LEARNED_CONFIG)
        if metadata["weights_sha256"] != _sha256(weights):
            raise SavedProgramError(
                f"path: {weights} does not match the weights_sha256 of {LEARNED_CONFIG} beside it: the two files are "
                "not from one save (edited, or mixed from two saves); save the program again"
            )
        try:
            state = load_file(str(weights), device="cpu")
        except Exception as error:  # safetensors raises its own error type for a corrupt header or body
            raise SavedProgramError(
                f"path: {weights} is not a readable safetensors file ({type(error).__name__})"
            ) from error
        own = self.state_dict()
        if strict:
            missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
            if missing or unexpected:
                raise SavedProgramError(
                    f"path: {weights} does not match this reprogrammer (missing {missing}, unexpected {unexpected})"
                )
        shared = [k for k in own if k in state and own[k] is not None]  # in the state dict's order
        for key in shared:
            if tuple(own[key].shape) != tuple(state[key].shape):
                raise ValueError(
                    f"path: tensor {key!r} has shape {tuple(state[key].shape)}, expected {tuple(own[key].shape)}"
                )
        if strict:
            self._check_saved_method(metadata)
        fingerprint = self._frozen.fingerprint()
        if metadata["frozen_model_fingerprint"] != fingerprint and not allow_fingerprint_mismatch:
            raise SavedProgramError(
                f"frozen_model_fingerprint: the program was learned on a frozen model with fingerprint "
                f"{_short(metadata['frozen_model_fingerprint'])}, this reprogrammer's model has {_short(fingerprint)}; "
                "pass allow_fingerprint_mismatch=True to load it anyway"
            )
        for key in shared:
            if own[key].dtype != state[key].dtype:
                raise SavedProgramError(f"path: tensor {key!r} has dtype {state[key].dtype}, expected {own[key].dtype}")
            checks.check_finite(state[key], f"path: tensor {key!r}", "a saved program must be finite")
        self.load_state_dict(state, strict=strict)
        return self

    def _check_saved_method(self, metadata: dict[str, Any]) -> None:
        """The saved method (name, part classes) and Spec must be this reprogrammer's."""
        saved = (metadata["name"], metadata["inputs"], metadata["output"])
        own = (self.name, [type(m).__qualname__ for m in self.inputs], type(self.output).__qualname__)
        for field, theirs, ours in zip(("name", "inputs", "output"), saved, own):
            if theirs != ours:
                raise SavedProgramError(
                    f"{field}: the program was saved by method {_short(saved[0])!r} ({field} {_short(theirs)}), "
                    f"this reprogrammer is {self.name!r} ({field} {_short(ours)}); load a program into the method "
                    "that saved it"
                )
        spec = json.loads(self.spec.model_dump_json())
        theirs = metadata["spec"]
        for key in sorted(set(spec) | set(theirs)):
            if theirs.get(key) != spec.get(key):
                raise SavedProgramError(
                    f"spec.{_short(key)}: saved {_short(theirs.get(key))}, this reprogrammer has {_short(spec.get(key))}; "
                    "the saved Spec was edited or belongs to another method"
                )

    def extra_repr(self) -> str:
        return f"name={self.name!r}, {self.spec.coordinates_str()}, frozen={self._frozen.extra_repr()}"

    def trainable_named_parameters(self) -> Iterable[tuple[str, nn.Parameter]]:
        return ((n, p) for n, p in self.named_parameters() if p.requires_grad)


# -- saved programs: one atomic unit ------------------------------------------------------------------
def _short(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _output_mode() -> int:
    """0o666 under the process umask (0644 with the usual umask 022), like any other file the package writes."""
    return 0o666 & ~_umask()


def _sync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _existing_program(directory: Path) -> list[str]:
    """The program files already in ``directory``; a clear error when it is a file or holds anything else."""
    if not directory.exists():
        return []
    if not directory.is_dir():
        raise FileExistsError(f"directory: {directory} is a file; expected a directory for the saved program")
    names = sorted(p.name for p in directory.iterdir())
    foreign = [n for n in names if n not in (LEARNED_WEIGHTS, LEARNED_CONFIG)]
    if foreign:
        raise FileExistsError(
            f"directory: {directory} holds other files ({', '.join(_short(n, 40) for n in foreign[:5])}); "
            "a saved program owns its directory: pass a new or empty one"
        )
    return names


def _exchange(first: Path, second: Path) -> bool:
    """Atomically swap two paths (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return bool(renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second), rename_exchange) == 0)


def _install(stage: Path, directory: Path, *, overwrite: bool) -> None:
    """Move the complete ``stage`` folder to ``directory`` in one rename (swap with an earlier program)."""
    try:
        os.rename(stage, directory)  # absent or empty directory: one atomic rename
        return
    except OSError:
        if not directory.is_dir():
            raise
    _existing_program(directory)
    if not overwrite:  # another save got there first
        raise FileExistsError(f"directory: {directory} exists; pass overwrite=True to replace it")
    if _exchange(stage, directory):
        return  # ``stage`` now holds the earlier program and is removed by the caller
    retired = Path(tempfile.mkdtemp(prefix=f".{directory.name}.replaced-", dir=directory.parent))
    os.rename(directory, retired / "program")
    os.rename(stage, directory)
    shutil.rmtree(retired, ignore_errors=True)


def _read_metadata(config: Path) -> dict[str, Any]:
    """``reprogrammer.json``, size-limited, parsed and checked for the fields :meth:`load_learned` needs."""
    if not config.is_file():
        raise SavedProgramError(
            f"path: no {LEARNED_CONFIG} at {config.parent}; a saved program is the pair {LEARNED_WEIGHTS} + {LEARNED_CONFIG}"
        )
    if config.stat().st_size > _MAX_METADATA_BYTES:
        raise SavedProgramError(f"path: {config} is larger than {_MAX_METADATA_BYTES} bytes; not a saved program")
    try:
        metadata = json.loads(config.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as error:
        raise SavedProgramError(f"path: {config} is not valid JSON ({type(error).__name__})") from error
    if not isinstance(metadata, dict):
        raise SavedProgramError(f"path: {config} must hold a JSON object, got {type(metadata).__name__}")
    missing = [name for name in _METADATA_FIELDS if name not in metadata]
    if missing:
        raise SavedProgramError(
            f"{missing[0]}: missing from {config}; a program saved by this version has {', '.join(_METADATA_FIELDS)} "
            "(save it again)"
        )
    if metadata["format"] != SAVE_FORMAT:
        raise SavedProgramError(
            f"format: {_short(metadata['format'])} in {config}; this version reads format {SAVE_FORMAT}"
        )
    if not isinstance(metadata["spec"], dict):
        raise SavedProgramError(f"spec: expected a JSON object in {config}, got {type(metadata['spec']).__name__}")
    return metadata
