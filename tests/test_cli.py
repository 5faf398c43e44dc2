"""The `workbench` command's sampling calculators, help and argument errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from workbench import cli, sampling


def test_size_prints_the_aicpa_size(capsys):
    assert cli.main(["size", "--confidence", "95%", "--tolerable", "5%", "--expected", "0%"]) == 0
    out = capsys.readouterr().out
    assert "Sample size: 59 items" in out and "Acceptance number: 0" in out


def test_size_uses_exact_decimal_arithmetic(capsys):
    assert cli.main(["size", "--confidence", "0.90", "--tolerable", "0.05", "--expected", "0.035"]) == 0
    assert "Sample size: 400 items" in capsys.readouterr().out


def test_size_matches_the_api_for_a_finite_population(capsys):
    assert cli.main(["size", "--tolerable", "5%", "--population", "200", "--method", "hypergeometric"]) == 0
    expected = sampling.sample_size(0.95, 0.05, population_size=200, method="hypergeometric")
    assert f"Sample size: {expected} items" in capsys.readouterr().out


@pytest.mark.parametrize(
    "extra, size",
    [([], 93), (["--method", "poisson"], 95), (["--method", "hypergeometric", "--population", "1000"], 90)],
)
def test_size_by_an_allowed_number_of_deviations(capsys, extra, size):
    assert cli.main(["size", "--tolerable", "5%", "--deviations", "1", *extra]) == 0
    out = capsys.readouterr().out
    assert f"Sample size: {size} items" in out and "Acceptance number: 1 deviation" in out
    assert "Planned from: an allowed number of deviations in the sample (1)" in out
    assert "allowing 1 deviation in the sample" in out and "Expected deviation rate" not in out


def test_size_refuses_deviations_with_a_non_zero_expected_rate(capsys):
    assert cli.main(["size", "--tolerable", "5%", "--deviations", "1", "--expected", "1%"]) == 2
    assert "not both" in capsys.readouterr().err


def test_evaluate_prints_limit_and_conclusion(capsys):
    assert cli.main(["evaluate", "--sample-size", "59", "--deviations", "1", "--tolerable", "5%"]) == 0
    out = capsys.readouterr().out
    limit = sampling.upper_deviation_limit(59, 1, 0.95)
    assert f"{sampling.round_up_pct(limit):.1%}".replace("%", " %") in out
    assert "Supports reliance:" in out and "No" in out


def test_impossible_plan_is_a_clear_error_with_exit_2(capsys):
    assert cli.main(["size", "--tolerable", "5%", "--expected", "6%"]) == 2
    assert "must be below tolerable_rate" in capsys.readouterr().err


def test_bad_rate_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as caught:
        cli.main(["size", "--tolerable", "abc"])
    assert caught.value.code == 2
    assert "'abc' is not a rate" in capsys.readouterr().err


def test_verify_of_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert cli.main(["verify", str(tmp_path)]) == 2
    assert "not a workbench run" in capsys.readouterr().err


def test_demo_data_only_writes_the_company(tmp_path, capsys):
    assert cli.main(["demo", "--data", str(tmp_path / "demo"), "--data-only", "--employees", "100"]) == 0
    for period in ("2026-Q2", "2026-Q3"):
        assert (tmp_path / "demo" / period / "ground_truth.csv").is_file()


def test_console_script_help_speaks_the_auditors_language():
    out = subprocess.run([sys.executable, "-m", "workbench.cli", "--help"], capture_output=True, text=True, check=True).stdout
    for word in ("period", "control", "workpapers", "sample"):
        assert word in out


def test_signoff_of_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert cli.main(["signoff", str(tmp_path), "--reviewer", "Morgan Lee"]) == 2
    assert "not a workbench run" in capsys.readouterr().err


def test_help_lists_signoff_and_verify_re_derivation():
    out = subprocess.run([sys.executable, "-m", "workbench.cli", "--help"], capture_output=True, text=True, check=True).stdout
    assert "signoff" in out and "re-derive" in out


def test_run_with_a_relative_output_folder(tmp_path, monkeypatch, capsys):
    """The default `--out outputs` is relative: kernels run elsewhere and must still find the run."""
    from conftest import make_demo_project
    from workbench.runner import DEMO_PARAMETER_FILE

    project = make_demo_project(tmp_path / "project")
    monkeypatch.chdir(project)
    code = cli.main(["run", f"parameters/{DEMO_PARAMETER_FILE}", "--out", "outputs", "--only", "UAR-01", "--jobs", "1"])
    assert code == 0, capsys.readouterr().err
    assert (project / "outputs" / "2026-Q3" / "latest").is_file()


def test_the_console_script_ends_with_the_commands_exit_code_after_the_exit_handlers():
    """``console_main`` skips the interpreter's tear-down, not the exit handlers or the output."""
    code = ("import atexit, sys\nfrom workbench import cli\natexit.register(lambda: print('exit handler ran'))\n"
            "sys.argv = ['workbench', 'check', '/nonexistent/period.yaml']\ncli.console_main()\n"
            "print('not reached')\n")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert completed.returncode == 2
    assert "the period file does not exist" in completed.stdout
    assert completed.stdout.rstrip().endswith("exit handler ran") and "not reached" not in completed.stdout


@pytest.mark.parametrize("argv, warm", [
    (["run", "p.yaml"], True),
    (["--debug", "run", "p.yaml", "--jobs", "2", "--only", "UAR-01"], True),
    (["run", "p.yaml", "--out", "run", "--kernels", "warm"], True),
    (["run", "p.yaml", "--kernels", "cold"], False),
    (["run", "p.yaml", "--kernels=cold"], False),
    (["run", "p.yaml", "--kern", "cold"], False),
    (["run", "p.yaml", "--kernels"], False),
    (["run", "--help"], False),
    (["run-group", "group.yaml"], False),
    (["check", "p.yaml"], False),
    ([], False),
])
def test_the_console_script_tells_a_warm_run_from_its_command_line_before_building_its_parser(argv, warm, capsys):
    assert cli.runs_warm_kernels(argv) is warm
    assert capsys.readouterr() == ("", "")  # a command line it cannot read is main's to explain


class _StartedAhead:
    """Stands in for the warm-kernel process: records when it was started and whether it was stopped."""

    def __init__(self, events: list[str]):
        self.events = events
        events.append("warm-kernel process started")

    def close(self) -> None:
        self.events.append("warm-kernel process stopped")


@pytest.mark.parametrize("argv, started", [(["run", "/nonexistent/period.yaml"], True),
                                          (["run", "/nonexistent/period.yaml", "--kernels", "cold"], False),
                                          (["run", "/nonexistent/period.yaml", "--jobs", "0"], True)])
def test_workbench_run_starts_the_warm_kernel_process_before_its_parser_and_stops_it_if_no_run_begins(
        argv, started, monkeypatch, capsys):
    from workbench import kernel_zygote, preloading

    events: list[str] = []
    monkeypatch.setattr(kernel_zygote, "fork_available", lambda: True)
    monkeypatch.setattr(preloading, "start_zygote_early",
                        lambda: setattr(kernel_zygote, "_early", _StartedAhead(events)))
    build_parser = cli.build_parser
    monkeypatch.setattr(cli, "build_parser", lambda: events.append("parser built") or build_parser())
    try:
        code = cli.main_starting_warm_kernels(argv)
    except SystemExit as refused:  # argparse refuses --jobs 0
        code = refused.code
    assert code == 2
    assert events == (["warm-kernel process started", "parser built", "warm-kernel process stopped"] if started
                      else ["parser built"])
    assert kernel_zygote._early is None


def test_the_warm_kernel_process_is_started_before_pydantic_pandas_or_the_procedures_are_imported():
    """What ``workbench run`` does before the zygote begins imports only the standard library and the
    command line: the list of modules to preload (which needs the procedures, and so pydantic) is
    worked out by the zygote itself."""
    import json

    code = ("import json, sys\nfrom workbench import kernel_zygote\ncalls = []\n"
            "kernel_zygote.start_early = lambda *a, **k: calls.append((a, k))\n"
            "kernel_zygote.fork_available = lambda: True\n"
            "from workbench import cli\ncli.start_warm_kernels_early()\n"
            "print(json.dumps({'imported': [m for m in ('pydantic', 'pandas', 'workbench.procedures', 'yaml')\n"
            "                               if m in sys.modules], 'modules': calls[0][0][0],\n"
            "                  'notebooks': calls[0][1]['notebooks'].name}))\n")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(completed.stdout.strip().splitlines()[-1]) == {"imported": [], "modules": None,
                                                                     "notebooks": "notebooks"}
