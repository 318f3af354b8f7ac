"""tinytensor.distributed and DistributedDataParallel, run as real MPI jobs.

Each test launches `mpiexec -n N python tests/mpi/PROGRAM.py` in a subprocess with a hard
timeout; the programs assert on every rank and print one line per rank. Skipped cleanly when
mpi4py or an MPI launcher is absent (`pip install ".[distributed]"` brings both)."""
import importlib.util
import os
import shutil
import subprocess
import sys
import time

import pytest

import tinytensor as tt
import tinytensor.distributed as dist

HERE = os.path.dirname(os.path.abspath(__file__))


def _launcher():
    for name in ("mpiexec", "mpirun"):
        beside = os.path.join(os.path.dirname(sys.executable), name)
        if os.path.exists(beside):
            return beside
        found = shutil.which(name)
        if found:
            return found
    return None


needs_mpi = pytest.mark.skipif(importlib.util.find_spec("mpi4py") is None or _launcher() is None,
                               reason='needs mpi4py and an MPI launcher: pip install '
                                      '".[distributed]"')


def mpirun(n, program, *args, timeout=120):
    env = dict(os.environ)
    # the children import the same tinytensor as this process (installed, or a source tree)
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(tt.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    env["OMP_NUM_THREADS"] = "1"              # one thread per rank on a 2-core machine
    start = time.monotonic()
    res = subprocess.run([_launcher(), "-n", str(n), sys.executable,
                          os.path.join(HERE, "mpi", program), *args],
                         cwd=os.path.dirname(HERE),
                         capture_output=True, text=True, timeout=timeout, env=env)
    return res, time.monotonic() - start


@needs_mpi
@pytest.mark.parametrize("n", [2, 3])
def test_every_collective_matches_numpy(n):
    res, _ = mpirun(n, "collectives.py")
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.count("collectives checked") == n


@needs_mpi
def test_ddp_equals_one_process_training_and_replicas_stay_identical():
    res, _ = mpirun(2, "ddp_train.py")
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.count("DDP ok") == 2


@needs_mpi
@pytest.mark.parametrize("mode", ["raise", "kill", "stall"])
def test_a_failing_rank_ends_the_job(mode):
    res, seconds = mpirun(2, "faults.py", mode, timeout=90)
    assert res.returncode != 0
    assert "unreachable" not in res.stdout
    assert seconds < 60, f"the job took {seconds:.0f} s to end"
    if mode == "stall":
        assert "timed out after 2 s" in res.stderr


def test_collectives_before_init_raise():
    assert isinstance(dist.is_available(), bool)
    assert not dist.is_initialized()
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        dist.all_reduce(tt.ones(2))
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        dist.get_rank()


def test_only_mpi_backends():
    with pytest.raises(RuntimeError, match="backend 'nccl' is not available"):
        dist.init_process_group("nccl")
    with pytest.raises(TypeError, match="timedelta"):
        dist.init_process_group("mpi", timeout=5)
    assert not dist.is_initialized()


def test_post_accumulate_grad_hooks():
    w = tt.ones(3, requires_grad=True)
    seen = []
    handle = w.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.tolist()))
    (w * 2).sum().backward()
    (w * 3).sum().backward()
    assert seen == [[2.0] * 3, [5.0] * 3]      # after accumulation, every backward
    handle.remove()
    (w * 1).sum().backward()
    assert len(seen) == 2
    with pytest.raises(RuntimeError, match="non-leaf"):
        (w * 2).register_post_accumulate_grad_hook(print)
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        tt.ones(2).register_post_accumulate_grad_hook(print)


@needs_mpi
def test_lenet_ddp_example_trains_checkpoints_and_resumes_on_another_world_size(tmp_path):
    example = os.path.join(os.path.dirname(HERE), "examples", "train_lenet_ddp.py")
    ckpt = str(tmp_path / "ckpt.npz")
    common = ["--limit", "500", "--checkpoint", ckpt]
    res, _ = mpirun(2, example, "--epochs", "1", *common, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.count("epoch 1:") == 1            # rank 0 alone prints
    assert os.path.exists(ckpt) and tt.load(ckpt)["epoch"] == 1
    res, _ = mpirun(1, example, "--epochs", "2", "--resume", ckpt, *common, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "epochs 2..2" in res.stdout and "test accuracy" in res.stdout
    assert tt.load(ckpt)["epoch"] == 2
