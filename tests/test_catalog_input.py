"""Hostile and careless input to the catalog (issue 14): duplicate keys, aliases, odd files, corrupted caches,
empty filters, bad export targets, BibTeX in and out. Every probe ends in a result or a clear error."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import bibtexparser
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_catalog_fuzz import _mutate  # the tests folder is on sys.path (pytest's rootdir insertion)

from reprogrammability.catalog import Catalog, CatalogError
from reprogrammability.catalog import cache as catalog_cache
from reprogrammability.catalog.bibtex import paper_stubs, read_bib, write_bib
from reprogrammability.catalog.errors import short_repr
from reprogrammability.catalog.export import check_output, write_export
from reprogrammability.catalog.loader import load_method_file
from reprogrammability.catalog.parsing import MAX_DEPTH, parse_yaml
from reprogrammability.cli import main

SURVEY = Path(__file__).resolve().parents[1] / "catalog" / "survey"
SETTINGS = settings(
    max_examples=int(os.environ.get("CATALOG_FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def real() -> Catalog:
    return Catalog.load()


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["catalog", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _mini(tmp_path: Path, real: Catalog, ids=("adversarial-reprogramming", "bar")) -> Path:
    root = tmp_path / "catalog"
    (root / "methods").mkdir(parents=True)
    (root / "papers").mkdir()
    for method_id in ids:
        document = real.methods[method_id].model_dump(mode="json", exclude_none=True)
        document["relations"] = [r for r in document["relations"] if r["target"] in ids]
        (root / "methods" / f"{method_id}.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return root


# --- YAML with limits ---------------------------------------------------------------------------------------------


def test_duplicate_keys_are_rejected_with_the_key_and_both_lines():
    with pytest.raises(CatalogError) as info:
        parse_yaml("id: bar\nname: BAR\nsummary: x\nname: again\n", "methods/bar.yaml")
    assert info.value.field == "line 4"
    assert "duplicate key 'name' (first at line 2)" in str(info.value)
    with pytest.raises(CatalogError, match="duplicate key 'operator'"):
        parse_yaml("coordinates:\n  operator: additive\n  operator: parametric\n", "m.yaml")


def test_a_billion_laughs_fails_fast_and_never_expands():
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, 10):
        prev, name = chr(ord("a") + level - 1), chr(ord("a") + level)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    lines.append("id: bar\ncoordinates:\n  operator: *j")
    text = "\n".join(lines)
    assert len(text) < 2000
    with pytest.raises(CatalogError) as info:
        parse_yaml(text, "methods/bar.yaml")
    assert "anchors and aliases" in str(info.value) and info.value.field == "line 1"  # the anchored value
    assert len(str(info.value)) < 300


def test_deep_nesting_is_a_clear_error():
    with pytest.raises(CatalogError, match="nested"):
        parse_yaml("[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5), "x.yaml")


def test_untrusted_values_are_quoted_with_a_bound(tmp_path, real):
    root = _mini(tmp_path, real, ids=("bar",))
    document = yaml.safe_load((root / "methods" / "bar.yaml").read_text())
    document["coordinates"]["operator"] = "x" * 100_000
    (root / "methods" / "bar.yaml").write_text(yaml.safe_dump(document))
    with pytest.raises(CatalogError) as info:
        load_method_file(root / "methods" / "bar.yaml", root=root)
    assert info.value.field == "coordinates.operator" and len(str(info.value)) < 400
    nested = [[[[["deep"] * 30] * 30] * 30]]
    assert len(short_repr(nested)) <= 80 and len(short_repr("y" * 10_000)) <= 80


def test_a_yml_file_is_reported_not_skipped(tmp_path, real):
    root = _mini(tmp_path, real)
    (root / "methods" / "bar.yaml").rename(root / "methods" / "bar.yml")
    with pytest.raises(CatalogError, match="end in .yaml") as info:
        Catalog.load(root, cache=False)
    assert info.value.file == "methods/bar.yml"


# --- the disk cache is verified, never trusted ---------------------------------------------------------------------


def _cache_file(root: Path) -> Path:
    files = sorted(p for folder in ("methods", "papers") for p in (root / folder).glob("*.yaml"))
    raw = {str(p.relative_to(root)): p.read_bytes() for p in files}
    return catalog_cache.cache_root() / f"catalog-{catalog_cache.digest(root.resolve(), raw)}.json"


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x00\xffnot json at all",
        b"[1, 2, 3]",
        b'{"format": 2, "digest": "x", "documents": "{}"}',
        "wrong-shape",
        "tampered",
    ],
)
def test_a_corrupted_cache_is_detected_and_rebuilt(tmp_path, monkeypatch, real, garbage):
    monkeypatch.setenv("REPROGRAMMABILITY_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("REPROGRAMMABILITY_CATALOG_CACHE", raising=False)
    root = _mini(tmp_path, real)
    expected = Catalog.load(root, cache=False)
    first = Catalog.load(root)  # writes the cache
    path = _cache_file(root)
    assert path.exists() and set(first.methods) == set(expected.methods)
    envelope = json.loads(path.read_text())
    if garbage == "wrong-shape":  # valid JSON, right envelope, documents of the wrong shape
        body = json.dumps({"methods/bar.yaml": [1, 2], "methods/adversarial-reprogramming.yaml": "x"})
        envelope.update(documents=body, checksum=catalog_cache._checksum(body))
        garbage = json.dumps(envelope).encode()
    elif garbage == "tampered":  # the documents changed, the checksum did not
        envelope["documents"] = envelope["documents"].replace("Black-box", "White-box")
        garbage = json.dumps(envelope).encode()
    path.write_bytes(garbage)
    from reprogrammability.catalog import loader

    loader._LOADED.clear()
    again = Catalog.load(root)
    assert {m.id: m.name for m in again.methods.values()} == {m.id: m.name for m in expected.methods.values()}
    assert (
        catalog_cache.get(
            path.stem.removeprefix("catalog-"), list(json.loads(json.loads(path.read_text())["documents"]))
        )
        is not None
    )  # rewritten and valid


def test_the_model_cache_and_the_catalog_cache_share_one_variable(monkeypatch, tmp_path):
    from reprogrammability.implementations.models import pretrained

    monkeypatch.setenv("REPROGRAMMABILITY_CACHE", str(tmp_path / "shared"))
    assert pretrained.CACHE_ENV == catalog_cache.CACHE_ENV == "REPROGRAMMABILITY_CACHE"
    assert pretrained.cache_root() == catalog_cache.cache_root() == tmp_path / "shared"


# --- empty filters and bad arguments -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "filters, field",
    [
        ({"operator": ""}, "operator"),
        ({"operator": ","}, "operator"),
        ({"access": []}, "access"),
        ({"year": ""}, "year"),
        ({"text": "  "}, "text"),
        ({"runs_on": "tpu"}, "runs_on"),
        ({"f_weights": "unfrozen"}, "f_weights"),
        ({"keeps_f_frozen": "yes"}, "keeps_f_frozen"),
    ],
)
def test_empty_or_bad_filters_are_errors_not_dropped(real, filters, field):
    with pytest.raises(ValueError, match=f"^{field}: "):
        real.query(**filters)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["query", "--operator", ""], "operator: an empty value"),
        (["query", "--year", ""], "year: expected"),
        (["query", "--text", ""], "text: an empty text"),
        (["graph", "--shared", "coop", "--axes", ","], "--axes: an empty value"),
        (["graph", "--axes", "operator"], "--axes: only applies with --shared"),
        (["export", "--format", "json", "--force"], "--force: only applies with --output"),
        (["resolve", " "], "term: give a name"),
    ],
)
def test_cli_rejects_empty_values_clearly(capsys, argv, message):
    code, out, err = _run(capsys, *argv)
    assert code == 1 and message in err and out == ""


def test_export_checks_its_target_before_any_work(tmp_path, capsys, real):
    code, _, err = _run(capsys, "export", "--format", "json", "-o", str(tmp_path), "--force")
    assert code == 1 and "is a folder" in err
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file"):
        check_output(blocker / "out.json")
    target = write_export(real, "json", tmp_path / "out" / "catalog.json")
    assert json.loads(target.read_text())["methods"] and oct(target.stat().st_mode & 0o777) == "0o644"
    with pytest.raises(FileExistsError, match="--force"):
        write_export(real, "csv", target)
    assert json.loads(target.read_text())["methods"]  # untouched
    write_export(real, "csv", target, force=True)
    assert target.read_text().startswith("id,kind,")
    assert [p.name for p in target.parent.iterdir()] == ["catalog.json"]  # no temporary files left


# --- BibTeX through bibtexparser -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["model_reprogramming.bib", "prompt_tuning.bib", "prompt_instructions.bib"])
def test_the_survey_bib_lists_round_trip(name):
    papers = read_bib((SURVEY / name).read_text(encoding="utf-8"), name)
    assert len(papers) == len(re.findall(r"^@\w+\{", (SURVEY / name).read_text(), re.M))
    assert all("," in a or a == "others" for _, p in papers for a in p.authors)
    assert read_bib(write_bib(papers)) == papers


def test_the_exported_bibtex_parses_back_to_the_catalog(real):
    text = real.export("bibtex")
    library = bibtexparser.parse_string(text)
    assert not library.failed_blocks
    assert len({e.key for e in library.entries}) == len(library.entries)
    back = {paper.title: paper for _, paper in read_bib(text)}
    for entry in real.entries():
        paper = entry.bibliography
        assert back[paper.title].authors == list(paper.authors)
        assert (back[paper.title].year, back[paper.title].venue, back[paper.title].doi) == (
            paper.year,
            paper.venue,
            paper.doi,
        )
    assert "\\_" not in "".join(line for line in text.splitlines() if line.lstrip().startswith(("url", "doi")))


def test_special_characters_survive_a_round_trip():
    text = (
        r"@inproceedings{k,"
        "\n"
        r" title = {{\"U}ber R\&D: 50\% of E^2 with a\_b},"
        "\n"
        r" author = {Sch{\"u}tze, Hinrich and Logan IV, Robert L. and others},"
        "\n year = 2021,\n booktitle = {ACL}\n}\n"
    )
    papers = read_bib(text)
    assert papers[0][1].title == "Über R&D: 50% of E^2 with a_b"
    assert papers[0][1].authors == ["Schütze, Hinrich", "Logan IV, Robert L.", "others"]
    written = write_bib(papers)
    assert "R\\&D" in written and "50\\%" in written
    assert read_bib(written) == papers
    quoted = [("q", papers[0][1].model_copy(update={"title": 'Optimization with "Gradient Descent" & Beam'}))]
    assert read_bib(write_bib(quoted)) == quoted


def test_import_bib_stubs_skip_known_papers_and_leave_the_axes_open(tmp_path, capsys, real):
    text = (SURVEY / "prompt_instructions.bib").read_text(encoding="utf-8")
    assert paper_stubs(text, real) == [] or all(
        s["title"] not in {e.bibliography.title for e in real.entries()} for s in paper_stubs(text, real)
    )
    stubs = paper_stubs(text)
    assert len(stubs) == 4 and all(s["coordinates"]["operator"] is None and s["kind"] is None for s in stubs)
    assert stubs[0]["authors"][0] == "Wei, Jason" and stubs[0]["year"] == 2022
    out = tmp_path / "stubs.yaml"
    code, _, _ = _run(capsys, "import-bib", str(SURVEY / "prompt_instructions.bib"), "--include-known", "-o", str(out))
    assert code == 0 and [s["id"] for s in yaml.safe_load(out.read_text())] == [s["id"] for s in stubs]
    code, _, err = _run(capsys, "import-bib", str(tmp_path / "missing.bib"))
    assert code == 1 and "no BibTeX file" in err


@pytest.mark.parametrize(
    "text, field",
    [
        ("@article{x,\n title={A}, author={B, C}, year={20x}}", "@article{x}.year"),
        ("@article{x,\n title={A}", "line 1"),
        ("@article{x,\n title={}, author={B, C}, year={2020}}", "@article{x}.title"),
    ],
)
def test_bad_bibtex_is_a_clear_error(text, field):
    with pytest.raises(CatalogError) as info:
        read_bib(text, "mine.bib")
    assert info.value.file == "mine.bib" and info.value.field == field


# --- fuzzing: text-level mutations of real files ---------------------------------------------------------------------


_SNIPPETS = [
    "&a ",
    "*a",
    "<<: *a",
    "\n  operator: additive",
    "\nid: bar",
    "{",
    "]",
    "\t",
    "!!python/object ",
    "---\n",
    "'",
    "2021-13-45",
    "\n" + "  " * 40 + "x: 1",
    ": :",
    "- - -",
    "\x00",
]


@SETTINGS
@given(data=st.data(), method_id=st.sampled_from(["bar", "coop", "time-llm", "in-context-learning"]))
def test_text_mutations_of_method_files_end_in_a_clear_error_or_a_valid_entry(tmp_path_factory, real, data, method_id):
    from reprogrammability.catalog.parsing import CATALOG_ROOT

    text = (CATALOG_ROOT / "methods" / f"{method_id}.yaml").read_text(encoding="utf-8")
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(text)))
        text = text[:at] + data.draw(st.sampled_from(_SNIPPETS) | st.text(max_size=8)) + text[at:]
    root = tmp_path_factory.mktemp("m")
    path = root / f"{method_id}.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        entry = load_method_file(path, root=root)
    except CatalogError as error:
        assert str(error).startswith(f"{error.file}: {error.field}") and len(str(error)) < 2000
    else:
        assert entry.id == method_id


@SETTINGS
@given(
    text=st.text(max_size=200)
    | st.builds(
        lambda a, b: f"@article{{{a},\n title={{{b}}}, year={{2020}}}}", st.text(max_size=10), st.text(max_size=30)
    )
)
def test_random_bibtex_ends_in_papers_or_a_clear_error(text):
    try:
        papers = read_bib(text, "x.bib")
    except CatalogError as error:
        assert error.file == "x.bib" and error.field
    else:
        assert all(p.title and p.authors for _, p in papers)


_FLAGS = [
    "--operator",
    "--location",
    "--alignment",
    "--configuration",
    "--paradigm",
    "--modality",
    "--access",
    "--f-weights",
    "--year",
    "--text",
    "--runs-on",
]


@SETTINGS
@given(
    pairs=st.lists(
        st.tuples(
            st.sampled_from(_FLAGS),
            st.text(max_size=12)
            | st.sampled_from(["additive", "", ",", "2021", "2020-", "x-y", "text-api", "trained", "none", "a,b", "-"]),
        ),
        max_size=3,
    ),
    command=st.sampled_from(["query", "list", "papers"]),
)
def test_fuzzed_filter_arguments_end_in_a_result_or_a_clear_error(capsys, pairs, command):
    argv = [command, "--json"] + [part for flag, value in pairs for part in (flag, value)]
    try:
        code = main(["catalog", *argv])
    except SystemExit as exit_:  # argparse's own usage errors (an unknown --runs-on choice, a value like "-")
        code = exit_.code
    out, err = capsys.readouterr()
    assert code in (0, 1, 2), argv
    if code == 0:
        assert isinstance(json.loads(out), list)
    else:
        assert err.strip() and "Traceback" not in err


@SETTINGS
@given(data=st.data())
def test_mutated_parameter_centric_terms_end_in_a_clear_error_or_valid_terms(tmp_path_factory, real, data):
    from reprogrammability.catalog.parsing import load_parameter_centric_file

    terms = [t.model_dump(mode="json") for t in real.parameter_centric[:2]]
    path = tmp_path_factory.mktemp("pca") / "parameter-centric.yaml"
    path.write_text(yaml.safe_dump(_mutate(terms, data), allow_unicode=True), encoding="utf-8")
    try:
        loaded = load_parameter_centric_file(path, root=path.parent)
    except CatalogError as error:
        assert error.file == "parameter-centric.yaml" and error.field
    else:
        assert all(t.f_weights.value != "frozen" and t.relatives for t in loaded)


def test_import_bib_reports_the_users_file_not_the_catalog(tmp_path, capsys):
    bad = tmp_path / "mine.bib"
    bad.write_text("@article{x,\n title={A}, author={B, C}, year={20x}}", encoding="utf-8")
    code, out, err = _run(capsys, "import-bib", str(bad))
    assert code == 1 and out == "" and "not valid BibTeX" in err and "@article{x}.year" in err
    assert "invalid catalog data" not in err
    with pytest.raises(CatalogError, match="larger than 16 MiB"):
        read_bib("%" * (16 * 2**20 + 1), "huge.bib")
