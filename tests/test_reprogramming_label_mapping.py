"""Label mappings against the reference fixtures (outputs of the published ILM-VP and BLM code)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from reprogrammability.framework.alignment import Alignment
from reprogrammability.framework.errors import NotFittedError
from reprogrammability.implementations.reprogramming.label_mapping import (
    BayesianLabelMapping,
    BayesianLabelMappingPlus,
    FrequencyLabelMapping,
    IterativeLabelMapping,
    ManyToOneLabelMapping,
    RandomLabelMapping,
    ShuffledLabelMapping,
    SimilarityLabelMapping,
    blm_omega,
    blm_plus_omega,
    default_top_k,
    frequency_matrix,
    greedy_assignment,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "label_mapping"
"""Outputs of the published ILM-VP and BLM code, vendored with the tests (see the README there)."""
CASES = ("c100_from_1000", "c10_from_1000", "c10_from_200_unstructured", "c37_from_500", "c5_from_20_ties")
FILES = [FIXTURES / f"{case}.npz" for case in CASES]  # named, not globbed: a missing file fails, never skips


def _load(path: Path):
    data = np.load(path)
    logits = torch.from_numpy(data["logits"].astype(np.float32))
    labels = torch.from_numpy(data["labels"].astype(np.int64))
    return data, logits, labels, int(labels.max()) + 1


def _keys(prefix: str) -> list[tuple[Path, str]]:
    return [(path, key) for path in FILES if path.exists() for key in np.load(path).files if key.startswith(prefix)]


def _id(value):
    return value.stem if isinstance(value, Path) else str(value)


def test_the_vendored_fixtures_are_complete_and_unchanged():
    sums = dict(reversed(line.split()) for line in (FIXTURES / "SHA256SUMS").read_text().splitlines() if line)
    assert sorted(sums) == sorted(path.name for path in FILES) == sorted(p.name for p in FIXTURES.glob("*.npz"))
    for path in FILES:
        assert path.exists(), f"{path} is missing: the label-mapping fixtures are part of the repository"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == sums[path.name], f"{path.name} was altered"
    # the BLM and BLM+ tests are parametrised from the files' keys: each kind is present in every case
    assert {path for path, _ in _keys("blm_omega_lap")} == {path for path, _ in _keys("blmp_omega_k")} == set(FILES)


def test_every_fixture_key_is_covered():
    covered = (
        "logits",
        "labels",
        "flm_sequence",
        "flm_sequence_ilmrepo",
        "flm_sequence_many2",
        "blm_omega_",
        "blmp_omega_",
    )
    for path in FILES:
        for key in np.load(path).files:
            assert key in covered or key.startswith(covered[-2:]), f"{path.name}: no test for key {key!r}"


@pytest.mark.parametrize("path", FILES, ids=_id)
@pytest.mark.parametrize("key", ["flm_sequence", "flm_sequence_ilmrepo"])
def test_flm_sequence_matches_reference(path, key):
    data, logits, labels, num_target = _load(path)
    for cls in (FrequencyLabelMapping, IterativeLabelMapping):
        mapping = cls(logits.shape[1], num_target).fit(logits, labels)
        assert mapping.sequence.tolist() == data[key].tolist()
        # the target-space logits are logits[:, sequence]
        assert torch.equal(mapping(logits), logits[:, torch.from_numpy(data[key])])


@pytest.mark.parametrize("path", FILES, ids=_id)
def test_many_to_one_sequence_matches_reference(path):
    data, logits, labels, num_target = _load(path)
    mapping = ManyToOneLabelMapping(logits.shape[1], num_target, per_target=2).fit(logits, labels)
    assert mapping.sequence.tolist() == data["flm_sequence_many2"].tolist()
    reference = data["flm_sequence_many2"].reshape(num_target, 2)
    assert [sorted(row) for row in mapping.assignment.tolist()] == [sorted(row) for row in reference.tolist()]
    expected = logits[:, torch.from_numpy(reference)].mean(-1)
    torch.testing.assert_close(mapping(logits), expected)


@pytest.mark.parametrize("path,key", _keys("blm_omega_lap"), ids=_id)
def test_blm_omega_matches_reference(path, key):
    data, logits, labels, num_target = _load(path)
    laplace = float(key.removeprefix("blm_omega_lap"))
    reference = data[key]
    np.testing.assert_allclose(blm_omega(logits, labels, num_target, laplace).numpy(), reference, atol=1e-6, rtol=0)
    mapping = BayesianLabelMapping(logits.shape[1], num_target, laplace=laplace).fit(logits, labels)
    np.testing.assert_allclose(mapping.omega.numpy(), reference, atol=1e-6, rtol=0)
    torch.testing.assert_close(mapping(logits), logits @ torch.from_numpy(reference), atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("path,key", _keys("blmp_omega_k"), ids=_id)
def test_blm_plus_omega_matches_reference(path, key):
    data, logits, labels, num_target = _load(path)
    k, laplace = key.removeprefix("blmp_omega_k").split("_lap")
    k, laplace = int(k), float(laplace)
    reference = data[key]
    omega = blm_plus_omega(logits, labels, num_target, k, laplace).numpy()
    np.testing.assert_allclose(omega, reference, atol=1e-6, rtol=0, equal_nan=True)
    mapping = BayesianLabelMappingPlus(logits.shape[1], num_target, top_k=k, laplace=laplace)
    if np.isnan(reference).any():
        # the reference divides 0 by 0 for a source class never in any top-k; the alignment refuses that ω
        with pytest.raises(ValueError, match="laplace"):
            mapping.fit(logits, labels)
    else:
        np.testing.assert_allclose(mapping.fit(logits, labels).omega.numpy(), reference, atol=1e-6, rtol=0)


def test_fixture_top_k_values_follow_the_default_rule():
    for path in FILES:
        _, _, _, num_target = _load(path)
        keys = [key for key in np.load(path).files if key.startswith("blmp")]
        ks = {int(key.removeprefix("blmp_omega_k").split("_")[0]) for key in keys}
        assert default_top_k(num_target) in ks


def test_greedy_assignment_breaks_ties_by_first_maximum_in_row_major_order():
    scores = torch.tensor([[2.0, 2.0], [2.0, 1.0], [0.0, 2.0]])
    assert greedy_assignment(scores, 1)[:, 0].tolist() == [0, 2]
    with pytest.raises(ValueError, match="per_target"):
        greedy_assignment(scores, 2)


def test_frequency_matrix_counts_argmax_pairs():
    z = torch.tensor([[0.0, 1.0, 0.0], [2.0, 0.0, 0.0], [0.0, 3.0, 0.0]])
    counts = frequency_matrix(z, torch.tensor([1, 0, 1]), 3, 2)
    assert counts.tolist() == [[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]]


def test_statistical_mappings_have_no_gradient_parameters_and_refit_flags():
    for mapping, refit in (
        (FrequencyLabelMapping(20, 4), False),
        (IterativeLabelMapping(20, 4), True),
        (ManyToOneLabelMapping(20, 4, 2), False),
        (BayesianLabelMapping(20, 4), True),
        (BayesianLabelMappingPlus(20, 4), True),
        (SimilarityLabelMapping(20, 4), True),
    ):
        assert mapping.alignment is Alignment.STATISTICAL
        assert mapping.trainable_parameters == 0
        assert mapping.symbolic().evaluate_parameter_count() == 0
        assert mapping.refit_each_epoch is refit
        with pytest.raises(NotFittedError):
            mapping(torch.zeros(2, 20))


def test_random_label_mapping_is_seeded_injective_and_rule_based():
    a, b = RandomLabelMapping(100, 10, 3, seed=1), RandomLabelMapping(100, 10, 3, seed=1)
    c = RandomLabelMapping(100, 10, 3, seed=2)
    assert torch.equal(a.indices, b.indices) and not torch.equal(a.indices, c.indices)
    assert a.indices.unique().numel() == 30
    assert a.alignment is Alignment.RULE_BASED and a.trainable_parameters == 0
    z = torch.randn(5, 100)
    torch.testing.assert_close(a(z), z[:, a.indices].mean(-1))
    with pytest.raises(ValueError, match="per_target"):
        RandomLabelMapping(10, 4, 3)


def test_shuffled_mapping_is_a_permutation():
    mapping = ShuffledLabelMapping(10, seed=3)
    assert sorted(mapping.indices.flatten().tolist()) == list(range(10))
    z = torch.randn(2, 10)
    torch.testing.assert_close(mapping(z), z[:, mapping.indices.flatten()])


def test_similarity_mapping_picks_the_most_probable_source_class_per_target():
    torch.manual_seed(0)
    targets = torch.arange(40) % 4
    z = torch.randn(40, 12)
    z[torch.arange(40), 2 * targets + 3] += 5.0  # class t prefers source class 2t + 3
    mapping = SimilarityLabelMapping(12, 4).fit(z, targets)
    assert mapping.assignment[:, 0].tolist() == [3, 5, 7, 9]


def test_blm_missing_target_class_is_reported():
    z = torch.randn(10, 8)
    with pytest.raises(ValueError, match="target class"):
        BayesianLabelMapping(8, 3).fit(z, torch.zeros(10, dtype=torch.long))
