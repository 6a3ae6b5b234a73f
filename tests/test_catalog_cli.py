"""``nnr catalog ...``: tables, --json with the YAML field names, exit codes, and no torch at start-up."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from reprogrammability.catalog import Catalog
from reprogrammability.cli import main


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["catalog", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_list_prints_an_aligned_table(capsys, catalog):
    code, out, _ = run(capsys, "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["id", "name", "paradigm"] and set(lines[1]) <= {"─", " "}
    assert f"{len(catalog.methods)} methods" in out
    body = [line for line in lines[2:] if line and not line.endswith("methods")]
    assert len(body) == len(catalog.methods)
    column = lines[0].index("λ")
    assert all(set(line[column:].split()[0].split("+")) <= {"fixed", "learnable"} for line in body)


def test_list_json_uses_the_yaml_field_names(capsys, catalog):
    code, out, _ = run(capsys, "list", "--json")
    entries = json.loads(out)
    assert code == 0 and len(entries) == len(catalog.methods)
    assert {"id", "paradigm", "implementation", "coordinates", "paper", "access", "aliases"} <= set(entries[0])
    assert entries[0] == catalog.methods[entries[0]["id"]].model_dump(mode="json")


def test_query_by_location(capsys, catalog):
    code, out, _ = run(capsys, "query", "--location", "embedding", "--json")
    ids = {e["id"] for e in json.loads(out)}
    assert code == 0 and ids == {m.id for m in catalog.query(location="embedding")}
    code, out, _ = run(capsys, "query", "--location", "embedding")
    assert "prompt-tuning" in out and "visual-prompting" not in out


def test_query_combines_filters(capsys):
    code, out, _ = run(capsys, "query", "--configuration", "fixed", "--location", "hidden", "--json")
    assert code == 0
    assert sorted(e["id"] for e in json.loads(out)) == [
        "activation-addition",
        "function-vector",
        "structured-prompting",
        "task-vector",
    ]
    code, out, _ = run(
        capsys, "query", "--access", "zeroth-order", "--access", "text-only", "--year", "2022-", "--json"
    )
    entries = json.loads(out)
    assert entries and all(e["access"] in ("zeroth-order", "text-only") and e["paper"]["year"] >= 2022 for e in entries)


def test_query_papers_and_all(capsys, catalog):
    code, out, _ = run(capsys, "query", "--papers", "--modality", "time-series", "--json")
    papers = json.loads(out)
    assert code == 0 and papers and all("title" in p and "methods" in p for p in papers)
    code, out, _ = run(capsys, "query", "--all", "--text", "chain of thought")
    assert code == 0 and "chain-of-thought" in out and "papers" in out


def test_query_rejects_unknown_values(capsys):
    code, _, err = run(capsys, "query", "--location", "middle")
    assert code == 1 and "location: 'middle' is not one of" in err


def test_papers_of_a_method(capsys, catalog):
    code, out, _ = run(capsys, "papers", "--method", "time-llm", "--json")
    papers = json.loads(out)
    assert code == 0 and {p["id"] for p in papers} == {p.id for p in catalog.papers_about("time-llm")}
    code, out, _ = run(capsys, "papers", "--kind", "survey")
    assert code == 0 and "ye-2025-reprogrammability-survey" in out
    code, _, err = run(capsys, "papers", "--kind", "tutorial")
    assert code == 1 and "--kind" in err
    code, _, err = run(capsys, "papers", "--method", "nope")
    assert code == 1 and "no method 'nope'" in err


def test_show_method_and_paper(capsys):
    code, out, _ = run(capsys, "show", "time-llm")
    assert code == 0
    assert "Time-LLM" in out and "ℓ location" in out
    assert "reprogrammability.implementations.reprogramming.time_llm" in out
    assert "papers" in out and "Why configuration" in out
    code, out, _ = run(capsys, "show", "gruver-2023-llmtime", "--json")
    (entry,) = json.loads(out)
    assert code == 0 and entry["id"] == "gruver-2023-llmtime" and entry["methods"] == ["in-context-learning"]


def test_show_unknown_id_suggests(capsys):
    code, _, err = run(capsys, "show", "prompt-tunning")
    assert code == 1 and "prompt-tuning" in err


def test_resolve(capsys):
    code, out, _ = run(capsys, "resolve", "visual", "prompting")
    assert code == 0 and "visual-prompting" in out and "vpt-deep" in out and "red-circle" in out
    code, out, _ = run(capsys, "resolve", "soft prompt", "--json")
    (term,) = json.loads(out)
    assert code == 0 and term["term"] == "soft prompt" and "prompt-tuning" in term["senses"][0]["methods"]
    code, out, _ = run(capsys, "resolve", "BLM+", "--json")
    assert code == 0 and [e["id"] for e in json.loads(out)] == ["blm-plus"]
    code, _, err = run(capsys, "resolve", "soft promt")
    assert code == 1 and "soft prompt" in err


def test_graph(capsys):
    code, out, _ = run(capsys, "graph")
    assert code == 0 and "relation" in out and "bar" in out
    code, out, _ = run(capsys, "graph", "bar")
    assert code == 0 and "bar builds on:       adversarial-reprogramming" in out
    code, out, _ = run(capsys, "graph", "--path", "blm", "visual-prompting")
    assert code == 0 and out.strip() == "blm — ilm-vp — visual-prompting"
    code, out, _ = run(capsys, "graph", "--shared", "coop", "--json")
    assert code == 0 and "kgcoop" in {e["id"] for e in json.loads(out)}
    code, out, _ = run(capsys, "graph", "--json")
    edges = json.loads(out)
    assert {"source": "bar", "type": "extends", "target": "adversarial-reprogramming"} in edges


@pytest.mark.parametrize("fmt", ["json", "csv", "bibtex", "mermaid", "graphml"])
def test_export_to_file_and_refuse_overwrite(capsys, tmp_path, fmt):
    target = tmp_path / f"catalog.{fmt}"
    code, _, err = run(capsys, "export", "--format", fmt, "--output", str(target))
    assert code == 0 and target.stat().st_size > 1000 and "wrote" in err
    before = target.read_bytes()
    code, _, err = run(capsys, "export", "--format", fmt, "--output", str(target))
    assert code == 1 and "already exists" in err and "--force" in err
    assert target.read_bytes() == before
    code, _, _ = run(capsys, "export", "--format", fmt, "--output", str(target), "--force")
    assert code == 0


def test_export_to_stdout(capsys, catalog):
    code, out, _ = run(capsys, "export", "--format", "json")
    assert code == 0 and len(json.loads(out)["papers"]) == len(catalog.papers)


def test_crosscheck_command(capsys, tmp_path):
    from reprogrammability.catalog.crosscheck import default_survey_path

    assert (default_survey_path() / "awesome-papers.yaml").is_file(), "the survey's data ships in catalog/survey/"
    code, out, _ = run(capsys, "crosscheck", "--json")
    rows = json.loads(out)
    assert code == 0 and rows and {"item", "field", "theirs", "ours", "reason"} <= set(rows[0])
    code, out, _ = run(capsys, "crosscheck", "--markdown")
    assert code == 0 and "CC BY 4.0" in out
    code, _, err = run(capsys, "crosscheck", "--survey", str(tmp_path))
    assert code == 1 and "survey" in err


def test_bare_catalog_command_prints_help(capsys):
    code, out, _ = run(capsys)
    assert code == 0 and "query" in out and "resolve" in out


def test_cold_cli_query_imports_no_torch():
    code = (
        "import sys\n"
        "from reprogrammability.cli import main\n"
        "status = main(['catalog', 'query', '--location', 'embedding', '--json'])\n"
        "sys.stdout.flush()\n"
        "heavy = [m for m in ('torch', 'sympy', 'networkx') if m in sys.modules]\n"
        "sys.stderr.write('HEAVY=' + ','.join(heavy))\n"
        "raise SystemExit(status)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)
    assert result.stderr.strip().endswith("HEAVY="), result.stderr
