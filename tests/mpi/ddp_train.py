"""Run under `mpirun -n N` (N divides 8): DistributedDataParallel against 1-process training.

Each rank trains on its 8/N slice of every batch; rank-local reference models train on the
whole batch. After every step the replicas must be bitwise identical across ranks and equal to
the reference within float tolerance. Also: no_sync accumulation, unused parameters, buffers."""
import copy

import numpy as np

import tinytensor as tt
import tinytensor.distributed as dist
import tinytensor.nn as nn
import tinytensor.nn.functional as F
from tinytensor.nn.parallel import DistributedDataParallel as DDP

dist.init_process_group("mpi")
rank, size = dist.get_rank(), dist.get_world_size()


class Net(nn.Module):
    def __init__(self, unused=False):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.fc = nn.Linear(4 * 5 * 5, 10)
        self.extra = nn.Linear(3, 3) if unused else None

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv(x)), 2)
        return self.fc(x.flatten(1))


def same_on_every_rank(model):
    flat = np.concatenate([p.detach().numpy().ravel() for p in model.parameters()])
    rows = [tt.from_numpy(np.zeros_like(flat)) for _ in range(size)]
    dist.all_gather(rows, tt.from_numpy(flat))
    return all(np.array_equal(r.numpy(), flat) for r in rows)


def batches(steps, seed=1):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        x = rng.standard_normal((8, 1, 12, 12)).astype(np.float32)
        y = rng.integers(0, 10, 8)
        yield tt.from_numpy(x), tt.from_numpy(y)


def local(t):
    n = t.shape[0] // size
    return t[rank * n:(rank + 1) * n]


# 1. DDP on half batches == one process on the full batch; replicas bitwise equal
tt.manual_seed(100 + rank)                   # different inits: DDP must broadcast rank 0's
model = Net()
ddp = DDP(model, bucket_cap_mb=0.001)        # several buckets
assert same_on_every_rank(model)
reference = copy.deepcopy(model)
opt = tt.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
ref_opt = tt.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
assert len(ddp._buckets) > 1
for x, y in batches(5):
    opt.zero_grad()
    F.cross_entropy(ddp(local(x)), local(y)).backward()
    opt.step()
    ref_opt.zero_grad()
    F.cross_entropy(reference(x), y).backward()
    ref_opt.step()
    assert same_on_every_rank(model)
    for p, q in zip(model.parameters(), reference.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-4, atol=1e-5)
assert list(ddp.state_dict())[0].startswith("module.")

# 2. no_sync: two accumulated micro-batches reduce once, like one big batch
ref2 = copy.deepcopy(model)
ddp.zero_grad()
ref2.zero_grad()
(x, y), = batches(1, seed=7)
with ddp.no_sync():
    (F.cross_entropy(ddp(local(x)[:1]), local(y)[:1]) / 2).backward()
(F.cross_entropy(ddp(local(x)[1:2]), local(y)[1:2]) / 2).backward()
n = x.shape[0] // size
picks = [r * n + i for i in range(2) for r in range(size)]
xs, ys = x[tt.tensor(picks)], y[tt.tensor(picks)]
for i in range(2):
    sub = [r * 2 + i for r in range(size)]
    (F.cross_entropy(ref2(xs[tt.tensor(sub)]), ys[tt.tensor(sub)]) / 2).backward()
for p, q in zip(model.parameters(), ref2.parameters()):
    np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-4, atol=1e-6)

# 3. unused parameters: an error without find_unused_parameters, handled with it
tt.manual_seed(0)
ddp_unused = DDP(Net(unused=True), find_unused_parameters=True)
for x, y in batches(2):
    ddp_unused.zero_grad()
    F.cross_entropy(ddp_unused(local(x)), local(y)).backward()
    assert ddp_unused.module.extra.weight.grad is None and ddp_unused.module.fc.weight.grad is not None
    assert same_on_every_rank(ddp_unused.module)
strict = DDP(Net(unused=True))
(x, y), = batches(1)
F.cross_entropy(strict(local(x)), local(y)).backward()
try:
    strict(local(x))
    raise AssertionError("a reduction left unfinished must be refused")
except RuntimeError as e:
    assert "Expected to have finished reduction in the prior iteration" in str(e)

# 4. buffers: BatchNorm's running statistics come from rank 0 at every forward
bn = DDP(nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)))
for x, _ in batches(2):
    bn(local(x)).sum().backward()
bn.eval()                        # the forward broadcasts rank 0's buffers and updates none
with tt.no_grad():
    bn(local(x))
stats = bn.module[1].running_mean
rows = [tt.zeros(2) for _ in range(size)]
dist.all_gather(rows, stats)
assert all(np.array_equal(r.numpy(), stats.numpy()) for r in rows)

dist.destroy_process_group()
print(f"rank {rank}: DDP ok")
