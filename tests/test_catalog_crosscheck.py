"""The cross-check against the survey's own list (shipped in the package): complete and every difference explained."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
import yaml

from reprogrammability.catalog import Catalog
from reprogrammability.catalog.crosscheck import (
    ATTRIBUTION,
    AWESOME,
    AWESOME_SCHEMA,
    BIBS,
    METHODS,
    CrosscheckRow,
    crosscheck,
    crosscheck_markdown,
    default_survey_path,
    normalise_their_value,
)

SURVEY = default_survey_path()


@pytest.fixture(scope="module")
def rows() -> list[CrosscheckRow]:
    return crosscheck(Catalog.load(), SURVEY)


def test_their_vocabulary_is_read_into_ours():
    assert normalise_their_value("location", "input-layers") == (frozenset({"input"}), [])
    assert normalise_their_value("location", "embedding / hidden") == (frozenset({"embedding", "hidden"}), [])
    assert normalise_their_value("operator", "concat") == (frozenset({"concatenative"}), [])
    assert normalise_their_value("alignment", "identitity") == (frozenset({"identity"}), [])
    values, unknown = normalise_their_value("operator", "statistical / linear")
    assert not values and unknown == ["statistical", "linear"]
    assert normalise_their_value("paradigm", "soft-prompts")[0] == {"prompt-tuning"}


def test_every_survey_item_is_catalogued_or_excluded(rows):
    missing = [f"{r.source}: {r.item}" for r in rows if r.category == "coverage" and r.ours == "missing"]
    assert not missing, "survey items neither in the catalog nor in catalog/excluded.yaml:\n" + "\n".join(missing)


def test_every_difference_has_a_reason(rows):
    unexplained = [f"{r.source} {r.entry} {r.field}: {r.theirs} -> {r.ours}" for r in rows if not r.reason.strip()]
    assert not unexplained, "add a `rationale` to these entries:\n" + "\n".join(unexplained)


def test_the_known_problems_of_their_list_are_reported(rows):
    def has(**match) -> bool:
        return any(all(getattr(r, k) == v for k, v in match.items()) for r in rows)

    assert has(category="schema", field="location", theirs="input-layers")
    assert has(category="schema", field="operator", theirs="statistical / linear", entry="bar")
    assert has(category="schema", field="operator", theirs="concat")
    assert has(category="label", entry="prompt-tuning", field="location", theirs="input", ours="embedding")
    assert has(category="label", entry="prompt-tuning", field="operator", theirs="additive", ours="concatenative")
    assert has(category="label", entry="vpt-deep", field="configuration", theirs="fixed", ours="learnable")
    assert has(category="duplicate", entry="coop")
    assert has(category="bibliographic", field="arxiv", theirs="2506.0620", ours="2506.00620")
    assert has(category="bibliographic", entry="bar", field="year", theirs="2021", ours="2020")


def test_no_row_for_mere_vocabulary_differences(rows):
    # PPT: their embedding/concat/rule-based is our embedding/concatenative/rule-based: only schema rows remain
    ppt = [r for r in rows if r.entry == "ppt"]
    assert ppt and all(r.category == "schema" for r in ppt)


def test_our_labels_obey_our_schema_where_theirs_break_theirs(rows):
    broken = {r.field for r in rows if r.category == "schema"}
    assert broken  # their list breaks its own schema ...
    catalog = Catalog.load()
    for entry in [*catalog.methods.values(), *catalog.papers.values()]:  # ... ours round-trips through our models
        dumped = entry.model_dump(mode="json")
        assert type(entry).model_validate(dumped).model_dump(mode="json") == dumped


def test_summaries_are_in_our_own_words():
    items = yaml.safe_load((SURVEY / "awesome-papers.yaml").read_text(encoding="utf-8"))
    theirs = [str(i.get(k, "")).lower() for i in items if isinstance(i, dict) for k in ("tldr", "summary")]
    catalog = Catalog.load()
    for entry in [*catalog.methods.values(), *catalog.papers.values()]:
        words = entry.summary.lower().split()
        for start in range(0, max(len(words) - 9, 0)):
            window = " ".join(words[start : start + 10])
            assert not any(window in text for text in theirs), f"{entry.id}: '{window}' copies the survey"


def test_markdown_page_with_attribution(rows):
    page = crosscheck_markdown(rows)
    assert page.startswith("# ")
    assert "CC BY 4.0" in page and "zyecs/awesome-reprogrammability" in page and ATTRIBUTION in page
    assert "NO REASON RECORDED" not in page
    table_rows = [line for line in page.splitlines() if line.startswith("| ") and line.count("|") == 7]
    assert len(table_rows) == len(rows) + len({r.category for r in rows})  # data rows + one header per table


def test_missing_survey_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="survey"):
        crosscheck(Catalog.load(), tmp_path / "nowhere")


def test_the_survey_data_ships_inside_the_package_with_its_attribution():
    package = resources.files("reprogrammability.catalog") / "survey"
    assert SURVEY.resolve() == Path(str(package)).resolve()
    shipped = {child.name for child in package.iterdir()}
    assert {AWESOME, AWESOME_SCHEMA, METHODS, *BIBS, "ATTRIBUTION.md"} <= shipped
    attribution = (package / "ATTRIBUTION.md").read_text(encoding="utf-8")
    assert "CC BY 4.0" in attribution and "zyecs/awesome-reprogrammability" in attribution
    assert all(f"`{name}`" in attribution for name in shipped - {"ATTRIBUTION.md"})  # every file is attributed
    assert "zyecs/awesome-reprogrammability" in ATTRIBUTION and "CC BY 4.0" in ATTRIBUTION


def test_the_default_cross_check_reads_the_shipped_data(rows):
    assert rows == crosscheck(Catalog.load())  # no path needed: the default is the shipped copy
    assert {r.source.split(" ")[0] for r in rows} >= {AWESOME, METHODS}
