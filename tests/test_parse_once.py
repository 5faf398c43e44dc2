"""A period file is parsed once per process (``yamlfile.parse_text`` keeps its last parses): a run
reads it for the run, for ``workbench check`` and for the freezing. Keyed by the text, so a changed
file is parsed again; refused text is refused every time; each caller gets a document of its own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench import yamlfile
from workbench.parameters import ParameterError, load_period
from workbench.runner import shipped_demo_parameters


@pytest.fixture
def composes(monkeypatch) -> list[str]:
    """Every text the YAML composer is asked to compose, from now on (the kept parses emptied)."""
    monkeypatch.setattr(yamlfile, "_parses", type(yamlfile._parses)())
    seen: list[str] = []
    real = yamlfile.compose_limited

    def counting(text, limits):
        seen.append(text)
        return real(text, limits)

    monkeypatch.setattr(yamlfile, "compose_limited", counting)
    return seen


def _period_file(tmp_path: Path) -> Path:
    path = tmp_path / "period.yaml"
    path.write_text(shipped_demo_parameters("demo-2026-Q3.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    return path


def test_a_period_file_read_three_times_is_parsed_once(tmp_path, composes):
    path = _period_file(tmp_path)
    first, second, third = (load_period(path) for _ in range(3))
    assert len(composes) == 1
    assert first == second == third


def test_a_changed_period_file_is_parsed_again(tmp_path, composes):
    path = _period_file(tmp_path)
    before = load_period(path)
    path.write_text(path.read_text(encoding="utf-8").replace(f"seed: {before.seed}", "seed: 4242", 1),
                    encoding="utf-8")
    after = load_period(path)
    assert len(composes) == 2 and after.seed == 4242 != before.seed


def test_each_caller_gets_a_document_of_its_own(tmp_path, composes):
    text = "controls:\n  - id: UAR-01\n    systems: [okta]\n"
    first, _ = yamlfile.parse_text(text, tmp_path / "a.yaml", "period file")
    first["controls"][0]["systems"].append("tampered")
    second, _ = yamlfile.parse_text(text, tmp_path / "a.yaml", "period file")
    assert second == {"controls": [{"id": "UAR-01", "systems": ["okta"]}]} and len(composes) == 1


def test_a_refused_text_is_refused_every_time(tmp_path, composes):
    path = tmp_path / "period.yaml"
    path.write_text("entity: A\nentity: B\n", encoding="utf-8")
    for _ in range(2):
        with pytest.raises(ParameterError, match="entity"):
            load_period(path)
    assert len(composes) == 2


def test_the_check_and_the_run_share_one_parse_of_the_period_file(tmp_path, composes):
    """``workbench check`` reports keys given twice itself and the run refuses them; whether they are
    refused is decided on the kept node tree, so a run's three reads compose the text once."""
    from workbench import yamlfile as module

    path = _period_file(tmp_path)
    text = path.read_text(encoding="utf-8")
    reported, _ = module.parse_text(text, path, "period file", refuse_duplicates=False)  # as the check reads it
    assert load_period(path) == load_period(path)
    assert len(composes) == 1 and reported["entity"]


def test_keys_given_twice_are_refused_with_the_same_words_after_a_parse_that_kept_them(tmp_path, composes):
    path = tmp_path / "period.yaml"
    path.write_text("entity: A\nperiod:\n  id: Q3\n  id: Q4\nentity: B\n", encoding="utf-8")
    with pytest.raises(yamlfile.YamlFileError) as fresh:
        yamlfile.parse_text(path.read_text(encoding="utf-8"), path, "period file")
    document, _ = yamlfile.parse_text(path.read_text(encoding="utf-8"), path, "period file", refuse_duplicates=False)
    assert document == {"entity": "B", "period": {"id": "Q4"}}
    with pytest.raises(yamlfile.YamlFileError) as after:
        yamlfile.parse_text(path.read_text(encoding="utf-8"), path, "period file")
    assert str(after.value) == str(fresh.value) and after.value.problems == fresh.value.problems
    assert len(fresh.value.problems) == 2 and "line 4, period.id" in fresh.value.problems[0]
    assert len(composes) == 2  # the refusal is never kept; the parse that reports the keys is
