"""The validator: run a method and check that it really is what its coordinates claim.

Like scikit-learn's ``check_estimator``, but for the definition ŷ = O_ω(f(I_{λ,τ,ℓ}(x))): a method
is built on a tiny model, trained for a few steps, instrumented at f's interfaces and probed with
inputs, and every claim of its spec is checked by observation. Each check has a name and, when it
fails, a reason that says what was observed and what the definition requires.

    >>> report = validate(my_example)          # doctest: +SKIP
    >>> report.passed, report.failures          # doctest: +SKIP

What :func:`validate` accepts
-----------------------------
* a **factory** ``() -> (reprogrammer, inputs, targets)`` (the registry's ``example`` contract), or
  ``() -> ValidationExample`` for more (a zeroth-order gradient estimator, trainer settings, a loss,
  a second probe batch). A 4-tuple ``(reprogrammer, inputs, targets, gradient_estimator)`` is
  accepted too, and a reprogrammer attribute ``gradient_estimator`` is used when nothing else gives
  one. **The factory is called more than once**, each time under ``seed_everything(seed)``: for the
  main run and for the same-seed rerun (an untrained deep copy of that second build is the fresh
  instance that loads the saved learned parts; when it cannot be deep-copied the factory is called
  a third time). So it must build a new reprogrammer, and the same one, on every call;
* a **registered method id** (``"ilm-vp"``), a :class:`MethodInfo`, or a registered ``build``
  function: its ``example`` is used and its declared coordinates are compared with the built ones;
* a **Reprogrammer** plus ``inputs`` and ``targets``: it is trained in place, and deep copies of
  it, taken before, stand in for the extra builds (so construction determinism is not checked, and
  the frozen model is copied).

The checks
----------
:data:`CHECKS` lists them (``nnr validate --list-checks``); each is a named function in one module
per family, with what it verifies and a one-line *why* (:mod:`.registry`): the frozen model, watched
in use (:mod:`.frozen_model`, :mod:`.guard`), configuration λ (:mod:`.configuration`), location ℓ
(:mod:`.location`), operator τ (:mod:`.operator`), alignment ω (:mod:`.alignment`), batch
independence and input dependence (:mod:`.batch`), access (:mod:`.access`), the symbolic form
(:mod:`.symbolic`), determinism (:mod:`.determinism`) and serialisation (:mod:`.serialisation`).
The runner (:mod:`.runner`) decides when each runs; the report (:mod:`.report`) holds the results.
A check that does not apply to a method (no manipulation at that location, another alignment) is
*not applicable* (status ``skipped``), which is not a failure.

How the operator is decided (precisely)
---------------------------------------
Each manipulation is observed where it acts: what it receives and returns is recorded during a real
forward (a forward hook for ``input``/``embedding`` parts; ``edit_hidden``/``key_value_prefix`` for
hidden parts) on the probe batch x₁; the part alone is then replayed on other values: what it
received on a second batch x₂ of the same shape, mixtures of the two, small changes, and (learnable
parts) the same inputs with its trainable parameters θ perturbed to θ'. Write u for the tensor the
part changes (a tensor input; the one float field of a dict/dataclass input that changes, e.g. graph
features or images next to boxes; the ``embeds`` of an :class:`EmbeddingState`; a hidden state) and
I(u) for what it returns there.

* **additive**, I(u) = a ⊙ A(u) + δ: I keeps the shape (at the input location the number of
  dimensions, so padding onto a larger canvas or one prompted copy per group is allowed); it is
  affine, ``I(½u₁+½u₂) = ½I(u₁)+½I(u₂)``; where the shape is kept its response to a change t of
  the input is element-wise, ``I(u+t) − I(u) = a ⊙ t`` with a ≠ 0 everywhere (the input is carried,
  perhaps normalised, never overwritten or mixed) and a non-zero term is added; and for learnable
  parts ``I_θ'(u₁) − I_θ(u₁) = I_θ'(u₂) − I_θ(u₂) ≠ 0``: the parameters shift every input by the
  same amount (for embedding and hidden parts u₂ comes with its own token ids, so a term that depends
  on the tokens is caught). ``N(pad(x) + M ⊙ σ(W))`` with a normalisation after the sum is additive.
  Text, token ids and key/value prefixes are never additive.
* **concatenative**: the sequence grows by P > 0 and what the part received is kept *unchanged and in
  order* inside what it returns, with the P prompt elements inserted as block(s) (``[P; u]``, or
  ``[u₀; P; u₁:]`` when a prompt goes after a start token as in CoOp; a batch repeated once per
  prompt, as in prompt mixtures, is allowed). Strings: u is a contiguous substring of a longer text;
  token ids: each row keeps its tokens in order and gains the same P tokens; tensors: exactly one
  axis grows; key/value prefixes: a prefix of length P > 0 enters every attention layer; deep prompts
  (a hidden edit that keeps the length): it replaces only prompt positions inserted earlier at the
  embedding, by values that do not depend on the input, and keeps every other position unchanged.
* **parametric**: declared only where neither of the above holds. A part declaring several
  operators (``operator = (Operator.ADDITIVE, Operator.PARAMETRIC)``) is held to the structural part
  of each (additive+parametric: keeps the shape and adds to its input, the term may depend on it).

A part whose operator acts on something other than what ``forward`` receives (CLIP class-prompt
templates act on the class names, not on the image) may define ``validation_view(received, returned)
-> (before, after)`` giving the two sides in the space where its operator acts; the concatenation
test then runs on those.

Tolerances: "equal" is bit-exact where the definition says *unchanged* (the frozen model, the
original content of a concatenation, reproducibility); algebraic identities (affinity, equal
shifts, element-wise responses) hold up to ``1e-4`` relative to the magnitude of the values.

Multi-tower models (CLIP): the trace observes the image tower; a part with ``tower="text"`` acts on
the class prompts' token-embedding state and is observed through its own calls. Its location check
asks that the image input is untouched and that the text tower's embedding state changes.

Reproducibility: everything runs under ``torch.use_deterministic_algorithms(True, warn_only=True)``
inside a forked RNG, so "same seed, same result" means bit-identical with deterministic kernels, and
the caller's RNG stream and settings are left as they were.
"""

from __future__ import annotations

from . import (  # noqa: F401 - each family registers its checks on import
    access,
    alignment,
    batch,
    configuration,
    cost,
    determinism,
    frozen_model,
    location,
    operator,
    serialisation,
    spec_checks,
    symbolic,
)
from .common import FAILED, PASSED, SKIPPED
from .example import ValidationExample, load_target
from .registry import CheckInfo, checks
from .report import CheckResult, ValidationError, ValidationReport
from .runner import check_catalog_entry, check_method, validate

__all__ = [
    "CHECKS",
    "CheckInfo",
    "CheckResult",
    "ValidationExample",
    "ValidationReport",
    "ValidationError",
    "validate",
    "check_method",
    "check_catalog_entry",
    "load_target",
    "PASSED",
    "FAILED",
    "SKIPPED",
]

CHECKS: tuple[CheckInfo, ...] = checks()
"""Every check :func:`validate` runs, in report order."""
