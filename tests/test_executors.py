"""Executors: every backend runs the same work alike, and a Dask cluster gives the frames,
hash and count stages exactly the outputs of the local executor."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed import Client, LocalCluster

from pipeline.cli import main
from pipeline.executors import DaskExecutor, Executor, ExecutorError, LocalExecutor
from pipeline.io.count_tasks import describer_for, detector_for
from pipeline.layout import DataLayout
from pipeline.synth.demo import FACES_INCIDENT
from tests.snapshots import catalog_content, differences, processed_files


def _square(x: int) -> int:
    return x * x


def _fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError("three is not allowed")
    return x


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0"
    ) as local:
        yield local


class ExecutorContract:
    """What every executor does; each implementation's test class provides `executor`."""

    def test_every_item_runs_once(self, executor: Executor) -> None:
        assert sorted(executor.map_unordered(_square, range(20))) == [i * i for i in range(20)]

    def test_items_are_drawn_only_as_workers_free_up(self, executor: Executor) -> None:
        drawn: list[int] = []

        def items() -> Iterator[int]:
            for i in range(100):
                drawn.append(i)
                yield i

        results = executor.map_unordered(_square, items())
        next(results)
        assert len(drawn) <= executor.in_flight + 1
        results.close()

    def test_a_failing_item_raises_its_exception(self, executor: Executor) -> None:
        with pytest.raises(ValueError, match="three is not allowed"):
            list(executor.map_unordered(_fail_on_three, range(6)))


class TestInThisProcess(ExecutorContract):
    @pytest.fixture(scope="class")
    @classmethod
    def executor(cls) -> Iterator[Executor]:
        with LocalExecutor(1, "processes") as executor:
            yield executor


class TestThreads(ExecutorContract):
    @pytest.fixture(scope="class")
    @classmethod
    def executor(cls) -> Iterator[Executor]:
        with LocalExecutor(2, "threads") as executor:
            yield executor


class TestProcesses(ExecutorContract):
    @pytest.fixture(scope="class")
    @classmethod
    def executor(cls) -> Iterator[Executor]:
        with LocalExecutor(2, "processes") as executor:
            yield executor


class TestDask(ExecutorContract):
    @pytest.fixture(scope="class")
    @classmethod
    def executor(cls, cluster: LocalCluster) -> Iterator[Executor]:
        with DaskExecutor(cluster.scheduler_address) as executor:
            yield executor


def _outputs(layout: DataLayout) -> tuple[dict[str, bytes], dict[str, list[tuple[object, ...]]]]:
    return processed_files(layout.processed), catalog_content(layout.catalog)


def test_dask_cluster_gives_the_outputs_of_the_local_executor(
    layout: DataLayout, cluster: LocalCluster
) -> None:
    data = ["--data-dir", str(layout.data_dir), "--no-progress"]
    assert main([*data, "demo-data"]) == 0
    assert main([*data, "run"]) == 0
    local = _outputs(layout)
    shutil.rmtree(layout.processed)
    assert main([*data, "run", "--executor", "dask", "--scheduler", cluster.scheduler_address]) == 0
    on_dask = _outputs(layout)
    assert any(name.startswith("thumbs/") for name in on_dask[0])
    # dedupe's keypoint confirmations ran on the cluster too (core/alignment.Check batches)
    ran = set(cluster.scheduler.task_prefixes)
    assert {"sample_media", "hash_batch", "verify_batch"} <= ran, ran
    assert differences(on_dask[0], local[0]) == []
    assert differences(on_dask[1], local[1]) == []


def _clear_models() -> None:
    detector_for.cache_clear()
    describer_for.cache_clear()


def _models_used() -> tuple[int, int]:
    """Detectors and face describers this worker process built (count tasks it ran)."""
    return detector_for.cache_info().currsize, describer_for.cache_info().currsize


def test_count_detection_runs_as_dask_tasks_with_the_local_outputs(
    layout: DataLayout, cluster: LocalCluster
) -> None:
    """The demo-faces incident alone (two portraits): detection and face description run
    on the cluster's workers, the catalog stays here, and every contract file, scenes.json
    and every catalog table (detections, faces, tracks) come out as the local executor's."""
    data = ["--data-dir", str(layout.data_dir), "--no-progress"]
    assert main([*data, "demo-data"]) == 0
    for folder in layout.raw.iterdir():
        if folder.name != FACES_INCIDENT:
            shutil.rmtree(folder)
    assert main([*data, "run"]) == 0
    local = _outputs(layout)
    shutil.rmtree(layout.processed)
    with Client(cluster.scheduler_address) as client:
        client.run(_clear_models)
        dask = ["--executor", "dask", "--scheduler", cluster.scheduler_address]
        assert main([*data, "run", *dask]) == 0
        used = client.run(_models_used)
    assert sum(d for d, _ in used.values()) >= 1 and sum(f for _, f in used.values()) >= 1
    on_dask = _outputs(layout)
    assert "scenes.json" in on_dask[0] and on_dask[1]["faces"] and on_dask[1]["tracks"]
    assert differences(on_dask[0], local[0]) == []
    assert differences(on_dask[1], local[1]) == []


def test_dask_without_a_scheduler_address_is_a_configuration_error(
    layout: DataLayout, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--data-dir", str(layout.data_dir), "--executor", "dask", "frames"]) == 2
    err = capsys.readouterr().err
    assert "configuration error" in err and "scheduler" in err


def test_an_unreachable_scheduler_is_a_clear_error() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ExecutorError, match="cannot reach the Dask scheduler"):
        DaskExecutor(f"tcp://127.0.0.1:{port}", connect_timeout_s=1)


def test_config_file_can_choose_dask(tmp_path: Path, layout: DataLayout, capsys) -> None:
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "default.yaml").write_text("run:\n  executor: dask\n")
    args = ["--data-dir", str(layout.data_dir), "--config-dir", str(configs), "hash"]
    assert main(args) == 2
    assert "run: " in capsys.readouterr().err
