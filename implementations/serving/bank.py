"""A program bank: one frozen model f, many task programs (I_t, O_t), mixed-task batches.

Each task t is a :class:`~reprogrammability.framework.Reprogrammer` ŷ = O_t(f(I_t(x))) built on the
bank's one :class:`FrozenModel`. A batch whose row i belongs to task t_i runs as

    ŷ_i = O_{t_i}( f( I_{t_i}(x_i) ) )_i        for all rows i in ONE forward of f,

wherever the tasks' manipulations give f inputs of the same geometry: input-location programs
(padding / additive images) are applied row-block by row-block and stacked, hidden edits act on each
row block, and every row's output alignment reads its own rows of z, so class counts may differ per row.

Soft prompts and key/value prefixes of different lengths share one pass on adapters that take a
per-row layout (``per_row_layout``: transformers text models). Row block t, built by its own task's
embedding manipulations, has length T_t and a prefix of P_t positions; the pass has T = max T_t and
P = max P_t. Each block is right-padded to T with masked positions and its prefix padded to P with
masked keys, and its tokens get the position ids P_t + (0 … T_t − 1):

    row i sees exactly the keys of its own run (its prefix, its prompt, its tokens), at the positions
    of its own run; padded keys carry attention weight exp(−∞) = 0.

Right padding (rather than left) keeps every real token at its own index, and no query row is fully
masked (a left-padded first position would see only masked keys). What differs from a row's own run
is only the order of floating-point sums over the longer key axis: rows agree to ~1e-7 in float32
and ~1e-15 in float64 on the tiny test models; on SmolLM2-135M, as much as a row's own run moves when
only its batch's shape changes (``benchmarks/bank_exactness.py``).

Tasks whose f-inputs still differ (another canvas size, hidden edits on other layers, a multi-tower
model, an adapter without per-row layouts) cannot share a pass: :meth:`ProgramBank.plan` groups them
and says why. Adding or removing a task never touches f (its fingerprint is checked on every add).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch import Tensor, nn

from reprogrammability.framework.adapters.transformers import ROW_LAYOUT, RowLayout
from reprogrammability.framework.axes import Location
from reprogrammability.framework.errors import SavedProgramError
from reprogrammability.framework.frozen import FrozenModel
from reprogrammability.framework.interfaces import AttentionGeometry, EmbeddingState, KeyValuePrefix
from reprogrammability.framework.reprogrammer import Reprogrammer

__all__ = ["ProgramBank", "TaskProgram", "BatchPlan", "BatchPass", "UnknownTaskError", "LABELS_FILE"]

LABELS_FILE = "labels.json"
"""Written beside a saved program by :meth:`ProgramBank.save`: the task's class names."""


class UnknownTaskError(KeyError):
    """A row (or a call) names a task the bank does not hold."""

    def __str__(self) -> str:  # KeyError quotes its message; show it as written
        return str(self.args[0])


@dataclass
class TaskProgram:
    """One task in the bank: its reprogrammer (on the bank's f) and its class names."""

    name: str
    program: Reprogrammer
    labels: tuple[str, ...] | None = None

    @property
    def parameter_bytes(self) -> int:
        """Bytes of the task's learned state (I and O parameters and buffers; f excluded)."""
        return sum(t.numel() * t.element_size() for t in self.program.state_dict().values() if t is not None)


@dataclass
class BatchPass:
    """One forward of f: the tasks it serves, their rows (indices into the batch) and f's input geometry."""

    tasks: tuple[str, ...]
    rows: dict[str, list[int]]
    geometry: str
    per_row: bool = False
    """Whether the rows' soft prompts / prefixes may differ in length (padded and masked per row)."""

    @property
    def size(self) -> int:
        return sum(len(r) for r in self.rows.values())


@dataclass
class BatchPlan:
    """How a mixed-task batch runs: one :class:`BatchPass` per group of tasks that can share f's forward."""

    passes: list[BatchPass] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def explain(self) -> str:
        lines = [f"{len(self.passes)} forward pass(es) of f"]
        for number, batch_pass in enumerate(self.passes, 1):
            counts = ", ".join(f"{t} ×{len(batch_pass.rows[t])}" for t in batch_pass.tasks)
            lines.append(f"  pass {number}: {counts}  [f input: {batch_pass.geometry}]")
        lines += [f"  why separate: {reason}" for reason in self.reasons]
        return "\n".join(lines)


def _rows_of(x: Any, index: Sequence[int]) -> Any:
    """Rows ``index`` of a batch: a tensor (first axis) or a list of inputs (strings, images)."""
    if isinstance(x, Tensor):
        return x[torch.as_tensor(list(index), dtype=torch.long, device=x.device)]
    if isinstance(x, (list, tuple)):
        return [x[i] for i in index]
    raise TypeError(f"x: expected a tensor or a list of inputs, got {type(x).__name__}")


def _stack(parts: list[Any], what: str) -> Any:
    if all(isinstance(p, Tensor) for p in parts):
        shapes = {tuple(p.shape[1:]) for p in parts}
        if len(shapes) > 1:
            raise ValueError(f"{what}: row blocks have different shapes {sorted(shapes)}; they cannot share a pass")
        return torch.cat(parts, dim=0)
    return [row for part in parts for row in part]


def _length(x: Any) -> int:
    if isinstance(x, Tensor):
        return int(x.shape[0])
    if isinstance(x, (list, tuple)):
        return len(x)
    raise TypeError(f"x: expected a tensor or a list of inputs, got {type(x).__name__}")


def _geometry(x: Any) -> str:
    if isinstance(x, Tensor):
        return f"{str(x.dtype).replace('torch.', '')}[{'×'.join(str(s) for s in x.shape[1:]) or 'scalar'}]"
    return "text" if x and isinstance(x[0], str) else type(x).__name__


def _structure(program: Reprogrammer) -> tuple[Any, ...]:
    """What must agree for two tasks to share f's forward beyond the input geometry: the embedding and
    hidden manipulations' locations, positions, lengths, towers and edited layers, in order."""
    found = []
    for m in program.inputs:
        if m.location is Location.INPUT:
            continue
        length = getattr(m, "length", None)
        found.append(
            (
                str(m.location),
                str(m.operator) if not isinstance(m.operator, tuple) else tuple(map(str, m.operator)),
                getattr(m, "position", None),
                length if isinstance(length, int) else None,
                m.tower,
                bool(m.provides_key_values),
                tuple(getattr(m, "layers", ())) if m.edits_hidden else (),
            )
        )
    return tuple(found)


def _describe_structure(structure: tuple[Any, ...]) -> str:
    if not structure:
        return "input only"
    parts = []
    for location, operator, position, length, tower, prefix, layers in structure:
        what = "key/value prefix" if prefix else f"{location} {operator}"
        details = [f"length {length}" if length is not None else "", f"at {position}" if position is not None else ""]
        details += [f"tower {tower}" if tower else "", f"layers {list(layers)}" if layers else ""]
        parts.append(" ".join([what] + [d for d in details if d]))
    return "; ".join(parts)


def _slice_state(state: EmbeddingState, start: int, stop: int) -> EmbeddingState:
    batch = state.batch_size

    def cut(value: Any) -> Any:
        if isinstance(value, Tensor) and value.dim() > 0 and value.shape[0] == batch:
            return value[start:stop]
        return value

    mask = None if state.attention_mask is None else state.attention_mask[start:stop]
    extra = {key: cut(value) for key, value in state.extra.items()}
    return replace(state, embeds=state.embeds[start:stop], attention_mask=mask, extra=extra)


def _join_states(parts: list[EmbeddingState]) -> EmbeddingState:
    first = parts[0]
    for part in parts[1:]:
        if part.embeds.shape[1:] != first.embeds.shape[1:] or not torch.equal(
            part.token_positions, first.token_positions
        ):
            raise ValueError("embedding: row blocks have different sequence layouts; they cannot share a pass")
    masks = [p.attention_mask for p in parts]
    mask = None if any(m is None for m in masks) else torch.cat(masks, dim=0)  # type: ignore[arg-type]
    extra = {}
    for key, value in first.extra.items():
        values = [p.extra.get(key) for p in parts]
        if all(isinstance(v, Tensor) and v.dim() > 0 and v.shape[0] == p.batch_size for v, p in zip(values, parts)):
            extra[key] = torch.cat(values, dim=0)  # type: ignore[arg-type]
        else:
            extra[key] = value
    return replace(first, embeds=torch.cat([p.embeds for p in parts], dim=0), attention_mask=mask, extra=extra)


class _RowBlocks(nn.Module):
    """The k-th embedding or hidden manipulation of several tasks, each on its own contiguous rows.

    Acts at the one location all of them share; what f sees is, row block by row block, exactly what each
    task's own manipulation would give it.
    """

    def __init__(self, parts: list[nn.Module], bounds: list[tuple[int, int]]):
        super().__init__()
        self.parts = parts  # plain list: the tasks' modules stay owned by their reprogrammers
        self.bounds = bounds
        first = parts[0]
        self.location = first.location
        self.tower = first.tower
        self.provides_key_values = first.provides_key_values
        self.edits_hidden = first.edits_hidden
        self.layers = tuple(getattr(first, "layers", ()))

    def forward(self, state: EmbeddingState) -> EmbeddingState:
        return _join_states([m(_slice_state(state, a, b)) for m, (a, b) in zip(self.parts, self.bounds)])

    def edit_hidden(self, layer: int, hidden: Tensor) -> Tensor:
        return torch.cat([m.edit_hidden(layer, hidden[a:b]) for m, (a, b) in zip(self.parts, self.bounds)], dim=0)

    def key_value_prefix(self, batch_size: int, geometry: AttentionGeometry) -> KeyValuePrefix:
        blocks = [m.key_value_prefix(b - a, geometry) for m, (a, b) in zip(self.parts, self.bounds)]
        return [
            (torch.cat([block[i][0] for block in blocks], dim=0), torch.cat([block[i][1] for block in blocks], dim=0))
            for i in range(len(blocks[0]))
        ]


def _adapter_settings(frozen: FrozenModel) -> str:
    """The adapter's kind and readout (two FrozenModels on the same weights may read different outputs)."""
    adapter = frozen.adapter
    readout = getattr(adapter, "readout_mode", None)
    return type(adapter).__name__ + (f"(readout={readout!r})" if readout is not None else "")


PER_ROW = "per-row layout"
"""Sharing key of tasks whose embedding / prefix manipulations may differ in length (:class:`_PerRowEmbedding`)."""


def _prefix_length(program: Reprogrammer) -> int:
    """P_t: the key/value prefix positions the task adds (sum over its prefix manipulations)."""
    return sum(int(m.length) for m in program.inputs if m.location is not Location.INPUT and m.provides_key_values)


def _takes_per_row_layout(program: Reprogrammer) -> bool:
    """Whether the task's non-input manipulations are only single-tower embedding manipulations and
    key/value prefixes of a declared int length (what a per-row layout pass can pad)."""
    for m in program.inputs:
        if m.location is Location.INPUT:
            continue
        if m.tower is not None or m.edits_hidden:
            return False
        if m.location is Location.HIDDEN and not (
            m.provides_key_values and isinstance(getattr(m, "length", None), int)
        ):
            return False
    return True


def _pad_right(tensor: Tensor, length: int, dim: int) -> Tensor:
    """``tensor`` zero-padded at the end of axis ``dim`` to ``length``."""
    missing = length - tensor.shape[dim]
    if missing == 0:
        return tensor
    shape = list(tensor.shape)
    shape[dim] = missing
    return torch.cat([tensor, tensor.new_zeros(shape)], dim=dim)


def _join_per_row(parts: list[EmbeddingState], prefix_lengths: list[int]) -> EmbeddingState:
    """Row blocks of different lengths T_t as one batch: right-padded to max T_t with masked positions,
    per-row token positions and prefix lengths in a :class:`RowLayout` (see the module docstring)."""
    length = max(p.length for p in parts)
    first = parts[0]
    masks = []
    for part in parts:
        mask = part.attention_mask
        if mask is None:
            mask = torch.ones(part.embeds.shape[:2], dtype=torch.long, device=part.embeds.device)
        masks.append(_pad_right(mask, length, 1))
    positions = [p.token_positions.expand(p.batch_size, -1) for p in parts]  # type: ignore[union-attr]
    if len({tuple(p.shape[1:]) for p in positions}) > 1:
        raise ValueError("embedding: row blocks have different original lengths; they cannot share a pass")
    rows = torch.cat([torch.full((p.batch_size,), n, dtype=torch.long) for p, n in zip(parts, prefix_lengths)]).to(
        first.embeds.device
    )
    extra: dict[str, Any] = {}
    for key, value in first.extra.items():
        values = [p.extra.get(key) for p in parts]
        if all(isinstance(v, Tensor) and v.dim() > 0 and v.shape[0] == p.batch_size for v, p in zip(values, parts)):
            if len({tuple(v.shape[1:]) for v in values}) > 1:  # type: ignore[union-attr]
                raise ValueError(f"embedding: extra[{key!r}] differs in shape between row blocks")
            extra[key] = torch.cat(values, dim=0)  # type: ignore[arg-type]
        else:
            extra[key] = value
    extra[ROW_LAYOUT] = RowLayout(token_positions=torch.cat(positions, dim=0), prefix_lengths=rows)
    embeds = torch.cat([_pad_right(p.embeds, length, 1) for p in parts], dim=0)
    return replace(first, embeds=embeds, attention_mask=torch.cat(masks, dim=0), extra=extra)


class _PerRowEmbedding(nn.Module):
    """Every task's embedding manipulations, in order, on its own rows; blocks joined with a :class:`RowLayout`."""

    location = Location.EMBEDDING
    tower = None
    provides_key_values = False
    edits_hidden = False

    def __init__(self, parts: list[list[nn.Module]], bounds: list[tuple[int, int]], prefix_lengths: list[int]):
        super().__init__()
        self.parts = parts  # plain lists: the tasks' modules stay owned by their reprogrammers
        self.bounds = bounds
        self.prefix_lengths = prefix_lengths

    def forward(self, state: EmbeddingState) -> EmbeddingState:
        blocks = []
        for manipulations, (a, b) in zip(self.parts, self.bounds):
            block = _slice_state(state, a, b)
            for manipulation in manipulations:
                block = manipulation(block)
            blocks.append(block)
        return _join_per_row(blocks, self.prefix_lengths)


class _PerRowPrefix(nn.Module):
    """Every task's key/value prefixes (concatenated, as f's own run does) on its rows, padded with zero
    keys and values to the longest; the :class:`RowLayout` masks the padding."""

    location = Location.HIDDEN
    tower = None
    provides_key_values = True
    edits_hidden = False
    layers: tuple[int, ...] = ()

    def __init__(self, parts: list[list[nn.Module]], bounds: list[tuple[int, int]], prefix_lengths: list[int]):
        super().__init__()
        self.parts = parts
        self.bounds = bounds
        self.prefix_lengths = prefix_lengths

    def key_value_prefix(self, batch_size: int, geometry: AttentionGeometry) -> KeyValuePrefix:
        length = max(self.prefix_lengths)
        blocks: list[KeyValuePrefix | None] = []
        for prefixes, (a, b), declared in zip(self.parts, self.bounds, self.prefix_lengths):
            merged: KeyValuePrefix | None = None
            for manipulation in prefixes:
                pairs = manipulation.key_value_prefix(b - a, geometry)
                merged = (
                    list(pairs)
                    if merged is None
                    else [(torch.cat([k0, k1], 2), torch.cat([v0, v1], 2)) for (k0, v0), (k1, v1) in zip(merged, pairs)]
                )
            got = 0 if merged is None else int(merged[0][0].shape[2])
            if got != declared:
                raise ValueError(f"prefix: a task declares {declared} prefix positions (length) but gives {got}")
            blocks.append(merged)
        template = next(block for block in blocks if block is not None)[0][0]
        out = []
        for layer in range(geometry.num_layers):
            keys, values = [], []
            for block, (a, b) in zip(blocks, self.bounds):
                if block is None:
                    empty = template.new_zeros(b - a, template.shape[1], length, template.shape[3])
                    keys.append(empty)
                    values.append(empty)
                else:
                    keys.append(_pad_right(block[layer][0].to(template.dtype), length, 2))
                    values.append(_pad_right(block[layer][1].to(template.dtype), length, 2))
            out.append((torch.cat(keys, dim=0), torch.cat(values, dim=0)))
        return out


class ProgramBank:
    """One frozen model f and any number of task programs, added and removed at run time.

    Args:
        model: f, a :class:`FrozenModel` (or a module, wrapped); every task's reprogrammer runs on it.

    Example::

        bank = ProgramBank(frozen)
        bank.load("digits", "programs/digits", build=make_vr, labels=[str(d) for d in range(10)])
        bank.add("fashion", fashion_reprogrammer)
        scores = bank.predict(images, ["digits", "fashion", "digits"])   # one forward of f; list of (C_t,) rows
    """

    def __init__(self, model: nn.Module):
        self.frozen = model if isinstance(model, FrozenModel) else FrozenModel(model)
        self._fingerprint = self.frozen.fingerprint()
        self._tasks: dict[str, TaskProgram] = {}

    # -- the bank ---------------------------------------------------------------------------
    @property
    def tasks(self) -> list[str]:
        return list(self._tasks)

    def __contains__(self, task: object) -> bool:
        return task in self._tasks

    def __len__(self) -> int:
        return len(self._tasks)

    def __getitem__(self, task: str) -> TaskProgram:
        return self._task(task, "task")

    def _task(self, task: str, field: str) -> TaskProgram:
        if task not in self._tasks:
            known = ", ".join(repr(t) for t in self._tasks) or "none yet"
            raise UnknownTaskError(f"{field}: unknown task {task!r}; the bank holds: {known}")
        return self._tasks[task]

    def add(
        self, task: str, program: Reprogrammer, *, labels: Sequence[str] | None = None, replace_existing: bool = False
    ) -> TaskProgram:
        """Add ``program`` as ``task``. It must run on the bank's f (the same FrozenModel, or one with the
        same fingerprint, which is then swapped for the bank's so f is held once)."""
        if not isinstance(task, str) or not task:
            raise ValueError(f"task: expected a non-empty task name, got {task!r}")
        if task in self._tasks and not replace_existing:
            raise ValueError(f"task: {task!r} is already in the bank; remove it first or pass replace_existing=True")
        if not isinstance(program, Reprogrammer):
            raise TypeError(f"program: expected a Reprogrammer, got {type(program).__name__}")
        if program.frozen is not self.frozen:
            theirs = program.frozen.fingerprint()
            if theirs != self._fingerprint:
                raise SavedProgramError(
                    f"frozen_model_fingerprint: task {task!r} runs on a frozen model with fingerprint {theirs[:16]}…, "
                    f"the bank's f has {self._fingerprint[:16]}…; a program serves only the f it was made for"
                )
            ours, yours = _adapter_settings(self.frozen), _adapter_settings(program.frozen)
            if ours != yours:
                raise ValueError(
                    f"program: task {task!r} reads f through {yours}, the bank's f through {ours}; build the task "
                    "on the bank's FrozenModel (bank.frozen) or make the bank with that readout"
                )
            object.__setattr__(program, "_frozen", self.frozen)
        names = None
        if labels is not None:
            names = tuple(str(label) for label in labels)
            classes = self._class_count(program)
            if classes is not None and classes != len(names):
                raise ValueError(f"labels: {len(names)} names for task {task!r}, whose output has {classes} classes")
        program.eval()
        entry = TaskProgram(task, program, names)
        self._tasks[task] = entry
        return entry

    def load(
        self,
        task: str,
        directory: str | Path,
        build: Callable[[FrozenModel], Reprogrammer],
        *,
        labels: Sequence[str] | None = None,
    ) -> TaskProgram:
        """Build the task's reprogrammer on the bank's f with ``build(f)`` and load its saved program
        (:meth:`Reprogrammer.load_learned`: weights hash, method, Spec and f's fingerprint are checked).
        Class names: ``labels``, else ``labels.json`` beside the program when present."""
        program = build(self.frozen)
        if not isinstance(program, Reprogrammer):
            raise TypeError(f"build: must return a Reprogrammer, got {type(program).__name__}")
        if program.frozen is not self.frozen:
            raise ValueError("build: must build the reprogrammer on the FrozenModel it is given (the bank's f)")
        program.load_learned(directory)
        if labels is None:
            path = Path(directory)
            file = (path if path.is_dir() else path.parent) / LABELS_FILE
            if file.is_file():
                labels = json.loads(file.read_text())
                if not isinstance(labels, list):
                    raise ValueError(f"{file}: expected a JSON list of class names")
        return self.add(task, program, labels=labels)

    def save(self, task: str, directory: str | Path, *, overwrite: bool = False) -> Path:
        """Save the task's program (:meth:`Reprogrammer.save_learned`) and its class names beside it."""
        entry = self._task(task, "task")
        path = entry.program.save_learned(directory, overwrite=overwrite)
        if entry.labels is not None:
            (path.parent / LABELS_FILE).write_text(json.dumps(list(entry.labels)) + "\n")
        return path

    def remove(self, task: str) -> TaskProgram:
        """Take ``task`` out of the bank (f untouched); returns it."""
        self._task(task, "task")
        return self._tasks.pop(task)

    @staticmethod
    def _class_count(program: Reprogrammer) -> int | None:
        for name in ("num_classes", "num_target", "out_features"):
            value = getattr(program.output, name, None)
            if isinstance(value, int):
                return value
        omega = getattr(program.output, "omega", None)
        return int(omega.shape[1]) if isinstance(omega, Tensor) and omega.dim() == 2 else None

    def program_bytes(self) -> int:
        """Bytes of all tasks' learned states (f excluded)."""
        return sum(entry.parameter_bytes for entry in self._tasks.values())

    def model_bytes(self) -> int:
        """Bytes of f's parameters and buffers (held once)."""
        return sum(t.numel() * t.element_size() for _, t in self.frozen._tensors())

    def assert_frozen(self) -> None:
        """f is exactly as it was when the bank was made (fingerprint) and holds no gradients."""
        if self.frozen.fingerprint() != self._fingerprint:
            raise SavedProgramError("frozen_model_fingerprint: f changed since the bank was made")
        self.frozen.assert_no_gradients()

    # -- mixed-task batches ------------------------------------------------------------------
    def _check_rows(self, x: Any, tasks: Sequence[str] | str) -> list[str]:
        size = _length(x)
        names = [tasks] * size if isinstance(tasks, str) else list(tasks)
        if len(names) != size:
            raise ValueError(f"tasks: {len(names)} task names for a batch of {size} rows; give one per row")
        for index, name in enumerate(names):
            self._task(name, f"tasks[{index}]")
        return names

    def _input_stage(self, x: Any, rows: dict[str, list[int]]) -> dict[str, Any]:
        """Each task's input-location manipulations on its rows (what f's input interface will see)."""
        staged = {}
        for task, index in rows.items():
            program = self._tasks[task].program
            inputs = [m for m in program.inputs if m.location is Location.INPUT]
            part = self.frozen.check_input(_rows_of(x, index), manipulations=list(program.inputs))
            for manipulation in inputs:
                part = manipulation(part)
            staged[task] = part
        return staged

    def plan(self, x: Any, tasks: Sequence[str] | str) -> BatchPlan:
        """Which rows share a forward of f, and why the others cannot."""
        return self._plan(x, self._check_rows(x, tasks))[0]

    def _plan(self, x: Any, names: list[str]) -> tuple[BatchPlan, dict[str, Any]]:
        rows: dict[str, list[int]] = {}
        for index, name in enumerate(names):
            rows.setdefault(name, []).append(index)
        staged = self._input_stage(x, rows)
        per_row = bool(getattr(self.frozen.adapter, "per_row_layout", False))
        groups: dict[tuple[str, Any], list[str]] = {}
        for task in rows:
            program = self._tasks[task].program
            sharing: Any = PER_ROW if per_row and _takes_per_row_layout(program) else _structure(program)
            groups.setdefault((_geometry(staged[task]), sharing), []).append(task)
        plan = BatchPlan()
        for (geometry, sharing), members in groups.items():
            if sharing == PER_ROW:
                layouts = sorted({_describe_structure(_structure(self._tasks[t].program)) for t in members})
                described = f"{geometry}; {PER_ROW} ({' | '.join(layouts)})" if layouts != ["input only"] else geometry
            else:
                described = geometry if not sharing else f"{geometry}; {_describe_structure(sharing)}"
            batch_pass = BatchPass(tuple(members), {t: rows[t] for t in members}, described, sharing == PER_ROW)
            plan.passes.append(batch_pass)
        if len(plan.passes) > 1:
            plan.reasons.append(
                "f's input differs between the passes (" + " | ".join(p.geometry for p in plan.passes) + "): "
                "rows of one forward must share the input shape and the hidden edits"
                + ("" if per_row else ", and (this adapter takes no per-row layout) the prompt and prefix lengths")
            )
        return plan, staged

    @torch.no_grad()
    def predict(self, x: Any, tasks: Sequence[str] | str) -> list[Tensor]:
        """ŷ_i = O_{t_i}(f(I_{t_i}(x_i))) for every row i: a list of (C_{t_i},) score vectors, one forward
        of f per :class:`BatchPass` of :meth:`plan`."""
        names = self._check_rows(x, tasks)
        plan, staged = self._plan(x, names)
        results: list[Tensor | None] = [None] * len(names)
        for batch_pass in plan.passes:
            outputs = self._run_pass(batch_pass, staged)
            for task, block in zip(batch_pass.tasks, outputs):
                for index, row in zip(batch_pass.rows[task], block):
                    results[index] = row
        return [r for r in results if r is not None]

    def predict_padded(self, x: Any, tasks: Sequence[str] | str, fill: float = float("-inf")) -> Tensor:
        """:meth:`predict` as one (B, max_t C_t) tensor; columns past a row's class count hold ``fill``."""
        rows = self.predict(x, tasks)
        width = max(int(r.shape[-1]) for r in rows)
        out = rows[0].new_full((len(rows), width), fill)
        for index, row in enumerate(rows):
            out[index, : row.shape[-1]] = row
        return out

    def labels(self, x: Any, tasks: Sequence[str] | str) -> list[str | int]:
        """Each row's predicted class: its name when the task has labels, else its index."""
        names = self._check_rows(x, tasks)
        predicted = []
        for name, scores in zip(names, self.predict(x, names)):
            index = int(scores.argmax())
            labels = self._tasks[name].labels
            predicted.append(labels[index] if labels is not None else index)
        return predicted

    def _run_pass(self, batch_pass: BatchPass, staged: dict[str, Any]) -> list[Tensor]:
        programs = [self._tasks[t].program for t in batch_pass.tasks]
        x = _stack([staged[t] for t in batch_pass.tasks], "x after the input manipulations")
        bounds, start = [], 0
        for task in batch_pass.tasks:
            bounds.append((start, start + len(batch_pass.rows[task])))
            start += len(batch_pass.rows[task])
        inner = [[m for m in p.inputs if m.location is not Location.INPUT] for p in programs]
        blocks: list[nn.Module]
        if batch_pass.per_row:
            lengths = [_prefix_length(p) for p in programs]
            blocks = [
                _PerRowEmbedding([[m for m in ms if m.location is Location.EMBEDDING] for ms in inner], bounds, lengths)
            ]
            if any(lengths):
                blocks.append(
                    _PerRowPrefix([[m for m in ms if m.provides_key_values] for ms in inner], bounds, lengths)
                )
        else:
            blocks = [_RowBlocks([parts[k] for parts in inner], bounds) for k in range(len(inner[0]))]
        z = self.frozen(x, blocks)
        if not isinstance(z, Tensor):
            raise TypeError(f"f's readout: expected a tensor per row, got {type(z).__name__}")
        return [p.output(z[a:b]) for p, (a, b) in zip(programs, bounds)]
