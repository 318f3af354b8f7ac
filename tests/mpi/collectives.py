"""Run under `mpirun -n N`: every collective against NumPy, on every dtype it supports."""
import numpy as np

import tinytensor as tt
import tinytensor.distributed as dist

dist.init_process_group("mpi")
rank, size = dist.get_rank(), dist.get_world_size()
rng = np.random.default_rng(0)
data = {dt: [rng.standard_normal((3, 4)).astype(dt) if dt != "int64"
             else rng.integers(-50, 50, (3, 4)) for _ in range(size)]
        for dt in ("float32", "float64", "int64")}
checks = 0


def mine(dt):
    return tt.from_numpy(data[dt][rank].copy())


for dt, arrays in data.items():
    stack = np.stack(arrays)
    expect = {dist.ReduceOp.SUM: stack.sum(0), dist.ReduceOp.PRODUCT: stack.prod(0),
              dist.ReduceOp.MIN: stack.min(0), dist.ReduceOp.MAX: stack.max(0)}
    if dt != "int64":
        expect[dist.ReduceOp.AVG] = stack.sum(0) / size
    for op, want in expect.items():
        t = mine(dt)
        dist.all_reduce(t, op=op)
        np.testing.assert_allclose(t.numpy(), want, rtol=1e-6)
        checks += 1
        # async, on a non-contiguous view
        base = tt.from_numpy(np.zeros((4, 3), dtype=dt))
        view = base.t()
        view.copy_(mine(dt))
        work = dist.all_reduce(view, op=op, async_op=True)
        assert work.wait() is True and work.is_completed()
        np.testing.assert_allclose(view.numpy(), want, rtol=1e-6)
        checks += 1
        t = mine(dt)
        dist.reduce(t, dst=size - 1, op=op)
        np.testing.assert_allclose(t.numpy(), want if rank == size - 1 else arrays[rank],
                                   rtol=1e-6)
        checks += 1
    t = mine(dt)
    dist.broadcast(t, src=size - 1)
    assert np.array_equal(t.numpy(), arrays[size - 1])
    out = [tt.from_numpy(np.zeros((3, 4), dtype=dt)) for _ in range(size)]
    dist.all_gather(out, mine(dt))
    assert all(np.array_equal(o.numpy(), a) for o, a in zip(out, arrays))
    gathered = [tt.from_numpy(np.zeros((3, 4), dtype=dt)) for _ in range(size)] if rank == 0 \
        else None
    dist.gather(mine(dt), gathered, dst=0)
    if rank == 0:
        assert all(np.array_equal(o.numpy(), a) for o, a in zip(gathered, arrays))
    t = tt.from_numpy(np.zeros((3, 4), dtype=dt))
    dist.scatter(t, [tt.from_numpy(a) for a in arrays] if rank == 0 else None, src=0)
    assert np.array_equal(t.numpy(), arrays[rank])
    checks += 4
flag = tt.tensor([rank == 0])
dist.broadcast(flag, 0)
assert flag.item() is True
dist.barrier()
dist.destroy_process_group()
print(f"rank {rank}: {checks} collectives checked")
