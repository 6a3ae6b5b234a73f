"""Facts of the catalog data, checked against the papers (issue 13 §2-§3), one test per kind of defect.

These pin the content of ``catalog/``: full author lists, when each method first became public and
that lineage runs forward in time, the τ and ω rules applied the same way to comparable methods,
BAR's statistical label map, what each entry does to f's weights, and glossary coverage.
"""

from __future__ import annotations

from datetime import date

import pytest

from reprogrammability.catalog import Catalog
from reprogrammability.framework.axes import Alignment, FWeights, Operator

CATALOG = Catalog.load()
METHODS = CATALOG.methods
PAPERS = CATALOG.papers

LATER_KINDS = {"application", "analysis", "extension", "benchmark", "theory"}
"""Paper kinds that use a method, so they cannot be public before it (unless the entry says why)."""


def _arxiv_month(arxiv: str) -> date | None:
    """First day of the month an arXiv id was announced in ('2103.10385' → 2021-03-01); None for old-style ids."""
    if "." not in arxiv or "/" in arxiv:
        return None
    yymm = arxiv.split(".")[0]
    return date(2000 + int(yymm[:2]), int(yymm[2:]), 1)


def _month(day: date) -> date:
    return day.replace(day=1)


def _public_month(entry) -> date | None:
    """Month a paper entry first became public: its first_public, else the month of its arXiv id."""
    if entry.first_public is not None:
        return _month(entry.first_public)
    return _arxiv_month(entry.arxiv) if entry.arxiv else None


def test_no_author_list_ends_in_others():
    offenders = [m.id for m in METHODS.values() if "others" in m.paper.authors]
    offenders += [p.id for p in PAPERS.values() if "others" in p.authors]
    assert offenders == []


def test_every_method_has_a_first_public_date_matching_its_arxiv_id():
    for method in METHODS.values():
        first = method.paper.first_public
        assert first is not None, f"{method.id}: paper.first_public is missing"
        assert first.year <= method.paper.year, f"{method.id}: public in {first}, after its venue year"
        if method.paper.arxiv and _arxiv_month(method.paper.arxiv):
            announced = _arxiv_month(method.paper.arxiv)
            # an id is issued in the month of announcement; a submission of the month's last days gets the next
            assert _month(first) <= announced, f"{method.id}: {first} is after arXiv {method.paper.arxiv}"
            assert (announced - _month(first)).days <= 31, (
                f"{method.id}: {first} is long before arXiv {method.paper.arxiv}"
            )


def test_paper_first_public_dates_match_their_arxiv_ids():
    dated = [p for p in PAPERS.values() if p.first_public is not None]
    assert len(dated) >= 8
    for paper in dated:
        assert paper.first_public.year <= paper.year, paper.id
        if paper.arxiv:
            assert _month(paper.first_public) <= _arxiv_month(paper.arxiv), paper.id


def test_method_relations_run_back_in_time():
    """A relation is declared on the later method; a same-time pair from two papers must say it is concurrent."""
    for method in METHODS.values():
        for relation in method.relations:
            target = METHODS[relation.target]
            source_day, target_day = method.paper.first_public, target.paper.first_public
            if source_day < target_day:
                pytest.fail(f"{method.id} ({source_day}) {relation.type} {target.id} ({target_day}) points forward")
            same_paper = method.paper.arxiv is not None and method.paper.arxiv == target.paper.arxiv
            if (source_day - target_day).days <= 7 and not same_paper:
                assert relation.note and "concurrent" in relation.note, f"{method.id} → {target.id}: say concurrent"


def test_p_tuning_lineage_runs_forward():
    """P-tuning's venue year (2023, AI Open) is later than methods built on it; first_public orders them."""
    p_tuning = METHODS["p-tuning"].paper
    assert p_tuning.year == 2023 and p_tuning.first_public == date(2021, 3, 18)
    for later in ("p-tuning-v2", "dart"):
        assert METHODS[later].paper.first_public > p_tuning.first_public
        assert METHODS[later].paper.year < p_tuning.year


def test_papers_that_use_a_method_are_not_older_than_it_unless_they_say_why():
    for paper in PAPERS.values():
        if paper.kind.value not in LATER_KINDS:
            continue
        public = _public_month(paper)
        if public is None:
            continue
        for method_id in paper.methods:
            method = METHODS[method_id]
            method_month = _month(method.paper.first_public)
            # within one month, arXiv ids are issued in submission order
            same_month_earlier_id = (
                public == method_month
                and paper.first_public is None
                and paper.arxiv is not None
                and method.paper.arxiv is not None
                and _arxiv_month(paper.arxiv) == _arxiv_month(method.paper.arxiv)
                and paper.arxiv < method.paper.arxiv
            )
            if public < method_month or same_month_earlier_id:
                assert "first_public" in {f.value for f in paper.rationale}, (
                    f"{paper.id} ({public:%Y-%m}, {paper.kind}) uses {method_id} ({method_month:%Y-%m}) "
                    "without a first_public rationale"
                )


@pytest.mark.parametrize(
    "paper_id, method_id",
    [
        ("subramani-2022-latent-steering-vectors", "activation-addition"),
        ("zhou-2023-one-fits-all", "time-llm"),
        ("jiang-2020-how-can-we-know", "prompt-ensemble"),
    ],
)
def test_precursors_are_enablers_not_extensions(paper_id, method_id):
    paper = PAPERS[paper_id]
    assert method_id in paper.methods
    assert paper.kind.value == "enabler"
    assert _public_month(paper) < _month(METHODS[method_id].paper.first_public)


def test_task_and_function_vectors_are_concurrent_and_ordered():
    task, function = METHODS["task-vector"], METHODS["function-vector"]
    relation = next(r for r in task.relations if r.target == "function-vector")
    assert task.paper.first_public >= function.paper.first_public
    assert "concurrent" in relation.note


def test_activation_addition_records_one_arxiv_version():
    paper = METHODS["activation-addition"].paper
    assert paper.title == "Activation Addition: Steering Language Models Without Optimization"
    assert paper.authors[0] == "Turner, Alexander Matt" and len(paper.authors) == 6
    assert not any(a.startswith("Vazquez") for a in paper.authors), "Vazquez joined in a later version"
    assert "Steering Language Models With Activation Engineering" in METHODS["activation-addition"].aliases


def test_bar_label_map_is_statistical_in_catalog_and_implementation():
    import torch

    from reprogrammability.framework.alignment import StatisticalAlignment
    from reprogrammability.implementations import create_method
    from reprogrammability.implementations.models.tiny import tiny_cnn

    entry = METHODS["bar"]
    assert entry.coordinates.alignment == (Alignment.STATISTICAL,)
    torch.manual_seed(0)
    reprogrammer = create_method(
        "bar", tiny_cnn(num_classes=10, width=4), num_classes=3, canvas_size=8, image_size=4, labels_per_class=2
    )
    assert isinstance(reprogrammer.output, StatisticalAlignment)
    # fitted from the frozen model's outputs: each target class gets the 2 source classes it is most often predicted as
    predicted = torch.tensor([7, 7, 8, 2, 2, 3, 5, 5, 6])
    source = torch.nn.functional.one_hot(predicted, 10).float()
    reprogrammer.output.fit(source, torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2]))
    assert [sorted(row.tolist()) for row in reprogrammer.output.assignment] == [[7, 8], [2, 3], [5, 6]]
    assert torch.allclose(reprogrammer.output.omega.sum(dim=0), torch.ones(3, dtype=reprogrammer.output.omega.dtype))


@pytest.mark.parametrize("method_id", ["blackvip", "smm", "gpf-plus", "autovp"])
def test_network_generated_additive_prompts_are_additive_and_parametric(method_id):
    """τ rule: an input-dependent term generated by a network and added to x is additive + parametric."""
    assert METHODS[method_id].coordinates.operator == (Operator.ADDITIVE, Operator.PARAMETRIC)
    info = Catalog.check_implementation(METHODS[method_id])
    assert set(info.spec.operator) == {Operator.ADDITIVE, Operator.PARAMETRIC}


def test_alignment_rule_verbalizers_are_rule_based_and_class_name_scores_identity():
    """ω rule: hand-chosen label words or answer strings → rule-based; f's own class-name scores → identity."""
    for method_id in ("prompt-tuning", "in-context-learning", "ppt", "bbt", "p-tuning"):
        assert METHODS[method_id].coordinates.alignment == (Alignment.RULE_BASED,), method_id
    for method_id in ("clip-zero-shot", "coop", "cocoop", "kgcoop", "blackvip", "evp"):
        assert METHODS[method_id].coordinates.alignment == (Alignment.IDENTITY,), method_id


@pytest.mark.parametrize(
    "paper_id, expected",
    [
        ("liu-2023-llava", FWeights.TRAINED),
        ("schick-2021-pet", FWeights.TRAINED),
        ("gao-2021-lm-bff", FWeights.TRAINED),
        ("min-2022-metaicl", FWeights.TRAINED),
        ("zhou-2023-one-fits-all", FWeights.TRAINED),
        ("chang-2025-llm4ts", FWeights.TRAINED),
        ("alayrac-2022-flamingo", FWeights.ADDED_MODULES),
        ("tsimpoukelli-2021-frozen", FWeights.FROZEN),
        ("li-2023-blip2", FWeights.FROZEN),
    ],
)
def test_papers_record_what_they_do_to_f(paper_id, expected):
    paper = PAPERS[paper_id]
    assert paper.f_weights is expected
    if expected is not FWeights.FROZEN:
        assert "f_weights" in {f.value for f in paper.rationale}, f"{paper_id}: say which weights change"


def test_catalogued_reprogramming_methods_keep_f_frozen_unless_they_say_otherwise():
    for method in METHODS.values():
        if method.f_weights is not FWeights.FROZEN:
            assert "f_weights" in {f.value for f in method.rationale}, method.id


@pytest.mark.parametrize("method_id", ["chain-of-thought", "zero-shot-cot", "self-consistency", "least-to-most"])
def test_generation_only_prompting_is_text_only(method_id):
    assert METHODS[method_id].access.value == "text-only"


def test_api_reasoning_papers_are_text_only():
    for paper_id in ("yao-2023-tree-of-thoughts", "yao-2023-react", "madaan-2023-self-refine", "nasiriany-2024-pivot"):
        assert PAPERS[paper_id].resolved_access.value == "text-only", paper_id


@pytest.mark.parametrize(
    "method_id",
    [
        "function-vector",
        "gpf",
        "gpf-plus",
        "ppt",
        "task-vector",
        "zero-shot-cot",
        "cross-modal-reprogramming",
        "activation-addition",
    ],
)
def test_official_code_is_linked(method_id):
    assert METHODS[method_id].code_url and METHODS[method_id].code_url.startswith("https://github.com/")


def test_evp_cites_what_could_be_verified():
    evp = METHODS["evp"]
    assert evp.paper.venue == "arXiv" and evp.paper.year == 2022
    assert "venue" in {f.value for f in evp.rationale}


def test_glossary_names_from_the_issue_resolve():
    """Instruction tuning and task arithmetic resolve (as parameter-centric terms, with reprogramming relatives)."""
    instruction_tuning = CATALOG.resolve("instruction tuning").parameter_centric
    assert "instruction-prompting" in {r.method for t in instruction_tuning for r in t.relatives}
    task_arithmetic = CATALOG.resolve("task arithmetic").parameter_centric
    assert {"task-vector", "function-vector"} <= {r.method for t in task_arithmetic for r in t.relatives}
    assert {"time-llm", "test-ts"} <= {m.id for m in CATALOG.resolve("LLM for time series").methods}
    visual_prompting = next(t for t in CATALOG.glossary if t.term == "visual prompting")
    assert {"blm-plus", "attrvr", "dvp"} <= set(visual_prompting.senses[0].methods)
    reached = {m for term in CATALOG.glossary for sense in term.senses for m in sense.methods}
    assert {"dclip", "test-ts", "time-llm"} <= reached


def test_every_glossary_sense_names_methods_or_is_the_umbrella():
    for term in CATALOG.glossary:
        for sense in term.senses:
            umbrella = sense.paradigm is not None and len(sense.paradigm) == 3
            assert sense.methods or umbrella, f"glossary {term.term!r}: {sense.label!r} names no method"
