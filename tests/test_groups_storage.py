"""Audit groups in object storage (``s3://`` through fsspec and s3fs), tested against an S3-compatible
server run in this process (moto's ``ThreadedMotoServer`` on 127.0.0.1): no network is touched.

A group in object storage has its period files and exports in one bucket and its runs in another;
the workers fetch the inputs into scratch folders of their own, and a run is complete when its
sealed manifest, uploaded last, is there. A copy of a run downloaded whole verifies as any run
folder does, and its workpapers and manifest are those ``workbench run`` writes for the same period.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from conftest import assert_same_evidence, module_key_folder
from workbench import cli, demo_group, group_report, groupfile, groups, groupstore, lineage, runfolder, runner, seal
from workbench.parameters import load_period

keys = pytest.fixture(scope="module", autouse=True)(module_key_folder)

EXPORTS, EVIDENCE = "audit-exports", "audit-evidence"
CONTROLS = {"PRIV-01", "AUTH-01"}


def _clear_filesystems() -> None:
    """Forget fsspec's cached S3 filesystems, so a change of credentials takes effect."""
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """An S3-compatible server on 127.0.0.1 (moto, in this process) with two buckets, and this process's
    environment (inherited by the Dask workers it starts) pointing at it with test credentials."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    nowhere = tmp_path_factory.mktemp("aws") / "none"
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                            "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": f"http://{host}:{port}",
                            "AWS_EC2_METADATA_DISABLED": "true", "AWS_SHARED_CREDENTIALS_FILE": str(nowhere),
                            "AWS_CONFIG_FILE": str(nowhere)}.items():
            patch.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            patch.delenv(name, raising=False)
        _clear_filesystems()
        fs, _ = groupstore.filesystem(f"s3://{EXPORTS}")
        fs.mkdir(EXPORTS)
        fs.mkdir(EVIDENCE)
        yield f"http://{host}:{port}"
    server.stop()
    _clear_filesystems()


def _keep_controls(parameter_file: Path, control_ids: set[str]) -> None:
    document = yaml.safe_load(parameter_file.read_text(encoding="utf-8"))
    document["controls"] = [c for c in document["controls"] if c["id"] in control_ids]
    parameter_file.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")


@pytest.fixture(scope="module")
def exports(s3, tmp_path_factory):
    """Two demo entities written here and uploaded to ``s3://audit-exports/harbor/``; the second one's
    HR export is not uploaded (its period cannot be used). Returns the local folder."""
    base = tmp_path_factory.mktemp("exports")
    demo_group.write_demo_group(base, entities=2)
    for number in (1, 2):
        _keep_controls(base / demo_group.entity_id(number) / "parameters" / runner.DEMO_PARAMETER_FILE, CONTROLS)
    groupstore.upload_folder(base, f"s3://{EXPORTS}/harbor",
                             skip=frozenset({"entity-02/data/demo/2026-Q3/hr/workday_workers.csv"}))
    return base


def _period_url(number: int) -> str:
    return f"s3://{EXPORTS}/harbor/{demo_group.entity_id(number)}/parameters/{runner.DEMO_PARAMETER_FILE}"


def _group_file(folder: Path, out: str, periods: list[str]) -> Path:
    lines = ["group: Harbor Lane group in object storage", f"out: {out}", "entities:"]
    for number, period in enumerate(periods, start=1):
        lines += [f"  - id: {demo_group.entity_id(number)}", f"    periods: [{period}]"]
    path = folder / "group.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- the group file ------------------------------------------------------------------------------

def test_a_group_in_object_storage_is_read_with_its_urls(exports, tmp_path):
    group = groupfile.load_group(_group_file(tmp_path, f"s3://{EVIDENCE}/group/", [_period_url(1)]))
    assert group.in_object_storage and group.out_dir == f"s3://{EVIDENCE}/group"
    assert group.periods[0].parameter_file == _period_url(1)
    assert group.entity_out("entity-01") == f"s3://{EVIDENCE}/group/entities/entity-01"


def test_a_missing_bucket_a_missing_period_and_an_unknown_storage_are_named_with_key_and_url(exports, tmp_path):
    missing = f"s3://{EXPORTS}/harbor/entity-09/parameters/2026-Q3.yaml"
    with pytest.raises(groupfile.GroupFileError) as refused:
        groupfile.load_group(_group_file(tmp_path, "s3://no-such-bucket/group", [_period_url(1), missing]))
    message = str(refused.value)
    assert ("line 2, out: the bucket 'no-such-bucket' of s3://no-such-bucket/group does not exist (or these "
            "credentials cannot see it)") in message
    assert f"line 7, entities[1].periods[0]: the period file {missing} does not exist" in message
    assert "entities[0]" not in message
    with pytest.raises(groupfile.GroupFileError) as refused:
        groupfile.load_group(_group_file(tmp_path, "nosuchstore://b/group", ["nosuchstore://b/q3.yaml"]))
    assert "line 2, out: 'nosuchstore://b/group' names a kind of storage the workbench cannot reach" in str(refused.value)


def test_without_credentials_each_url_is_named_with_what_to_give(exports, tmp_path, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    _clear_filesystems()
    try:
        with pytest.raises(groupfile.GroupFileError) as refused:
            groupfile.load_group(_group_file(tmp_path, f"s3://{EVIDENCE}/group", [_period_url(1)]))
    finally:
        monkeypatch.undo()
        _clear_filesystems()
    message = str(refused.value)
    assert f"line 2, out: no credentials to write the group's runs to s3://{EVIDENCE}/group" in message
    assert f"line 5, entities[0].periods[0]: no credentials to read the period file {_period_url(1)}" in message
    assert "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in message


# --- publishing to object storage, in this process --------------------------------------------------

def test_a_run_in_object_storage_is_complete_only_once_its_signed_manifest_is_uploaded_last(exports, tmp_path,
                                                                                             monkeypatch):
    out = f"s3://{EVIDENCE}/in-process/entities/entity-01"
    try:  # the tasks run in this process, as a worker would run them; then this process releases them
        _prepare_publish_and_complete(exports, tmp_path, monkeypatch, out)
    finally:
        groups.release_worker()
    assert groups._WORKER_STATE is None


def _prepare_publish_and_complete(exports: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, out: str) -> None:
    prepared = groups.prepare_period(_period_url(1), out)
    assert prepared.problem is None and prepared.run_dir.startswith(f"{out}/2026-Q3/")
    recorded = json.loads(groupstore.read_bytes(groupstore.join(prepared.run_dir, runner.RUN_PARAMETERS)))
    assert recorded["parameter_file"] == _period_url(1)
    assert {e["original_path"] for e in recorded["inputs"].values()} >= {
        f"s3://{EXPORTS}/harbor/entity-01/data/demo/2026-Q3/hr/workday_workers.csv"}
    lost = {cid: "no worker could test it (test)" for cid in sorted(CONTROLS)}
    published = groups.publish_period(prepared.run_dir, sorted(CONTROLS), {}, lost, {"group": "test"}, 1.0)
    before = groupstore.download_folder(prepared.run_dir, tmp_path / "before")
    assert not (before / lineage.MANIFEST).exists() and not (before / runfolder.MARKER).exists()
    assert runfolder.is_incomplete(before)  # a run folder without its manifest is unfinished
    writes: list[str] = []
    write = groupstore.write_bytes
    monkeypatch.setattr(groupstore, "write_bytes", lambda url, data: (writes.append(url), write(url, data)))
    params = load_period(exports / "entity-01" / "parameters" / runner.DEMO_PARAMETER_FILE)
    assert groups.complete_run(published, seal.preparer_key(params.preparer)) == prepared.run_dir
    assert [w.rsplit("/", 1)[-1] for w in writes] == [seal.MANIFEST_SIGNATURE, lineage.MANIFEST, "latest"]
    assert groupstore.read_bytes(f"{out}/2026-Q3/latest").decode().strip() == published.run_id
    copy = groupstore.download_folder(prepared.run_dir, tmp_path / "copy")
    assert not runfolder.is_incomplete(copy)
    assert runner.verify_run(copy).ok, runner.verify_run(copy)


# --- a group in object storage on a 2-worker LocalCluster -------------------------------------------

@pytest.fixture(scope="module")
def s3_group(exports, tmp_path_factory):
    folder = tmp_path_factory.mktemp("s3-group")
    group = groupfile.load_group(_group_file(folder, f"s3://{EVIDENCE}/group", [_period_url(1), _period_url(2)]))
    lines: list[str] = []
    with groups.connect(None, 2) as (client, cluster):
        result = groups.run_group(group, client, cluster, progress=lines.append)
        leftovers = client.run(lambda: groups._WORKER_STATE is None)
    return result, lines, leftovers


def test_a_group_in_object_storage_publishes_complete_runs_that_verify_when_downloaded(s3_group, tmp_path):
    result, lines, leftovers = s3_group
    assert isinstance(result.group_dir, str) and result.group_dir.startswith(f"s3://{EVIDENCE}/group/")
    published, unusable = result.periods
    assert published.status == group_report.PUBLISHED
    assert [c.status for c in published.controls] == ["completed", "completed"]
    run_url = f"s3://{published.run_dir}"
    copy = groupstore.download_folder(run_url, tmp_path / "copy")
    assert cli.main(["verify", str(copy)]) == 0
    assert (unusable.status, unusable.controls) == (group_report.NOT_USABLE, [])
    assert f"s3://{EXPORTS}/harbor/entity-02/data/demo/2026-Q3/hr/workday_workers.csv" in unusable.problem
    manifest = json.loads(groupstore.read_bytes(result.manifest))
    assert manifest["summary"]["completed"] == 2
    index = groupstore.read_bytes(result.index_html).decode()
    for control in published.controls:
        link = manifest["periods"][0]["controls"][[c.control_id for c in published.controls].index(control.control_id)]
        target = groupstore.join(result.group_dir, link["workpaper"])
        assert f'href="{link["workpaper"]}"' in index and groupstore.exists(target)
        assert len(groups.read_attempts(groups.attempts_folder(result.group_dir, "entity-01", "2026-Q3",
                                                               control.control_id))) >= 1
    assert groupstore.read_bytes(f"s3://{EVIDENCE}/group/latest").decode().strip() == result.group_dir.rsplit("/")[-1]
    assert leftovers and all(leftovers.values())  # every worker released its kernels and scratch folder
    assert any("signed here" in line for line in lines)


def test_a_group_in_object_storage_writes_the_workpapers_and_manifest_workbench_run_writes(s3_group, exports, tmp_path):
    result, _, _ = s3_group
    copy = groupstore.download_folder(f"s3://{result.periods[0].run_dir}", tmp_path / "copy")
    period_file = exports / "entity-01" / "parameters" / runner.DEMO_PARAMETER_FILE
    alone = runner.run_period(period_file, tmp_path / "alone", jobs=1, progress=lambda line: None).run_dir
    assert_same_evidence(copy, alone)
