"""DistributedDataParallel: the same model on every rank, gradients averaged during backward.

How a step goes (PyTorch's design, on tinytensor.distributed's MPI collectives):
- At construction, rank 0's parameters and buffers are broadcast, so every rank starts from
  the same model. Parameters are grouped into buckets of about `bucket_cap_mb`, in reverse
  registration order: backward produces the last layers' gradients first.
- Backward calls a post-accumulate-grad hook on each parameter as its gradient lands in
  `.grad`. When a bucket's last gradient lands, the bucket is flattened and its all-reduce
  starts (non-blocking), while backward goes on with earlier layers. Each hook also tests the
  buckets in flight, which keeps MPI's progress engine moving (MPI progresses a non-blocking
  operation only inside MPI calls).
- When the last bucket has started, the reducer waits for all of them and writes the average
  over ranks back into each `.grad`. After the step every rank holds bitwise the same
  gradients, so the same optimizer step keeps the replicas bitwise identical.
- `no_sync()` skips the reduction (gradient accumulation); the next synchronised backward
  reduces the accumulated `.grad`.
- `find_unused_parameters=True` walks the autograd graph of the forward's outputs and marks
  the parameters it does not reach as ready, so their bucket is not waited for forever;
  a parameter no rank used keeps its `.grad`.
"""
import contextlib
import time

import numpy as np

from tinytensor import distributed as dist
from tinytensor.autograd.function import AccumulateGrad
from tinytensor.autograd.grad_mode import is_grad_enabled, no_grad
from tinytensor.nn.modules.module import Module
from tinytensor.tensor import Tensor, from_numpy

__all__ = ["DistributedDataParallel"]


class _Bucket:
    def __init__(self, params):
        self.params = params
        self.pending = len(params)
        self.flat = None
        self.work = None


class DistributedDataParallel(Module):
    """Wrap `module` for data-parallel training under `mpirun` (see module docstring).

    Args:
        module: the model; it must be the same architecture on every rank.
        device_ids, output_device: must be None (tinytensor runs on the CPU).
        broadcast_buffers: broadcast rank 0's buffers (BatchNorm running statistics) at
            every forward, as PyTorch does by default.
        bucket_cap_mb: bucket size for gradient all-reduces (default 25).
        find_unused_parameters: allow parameters that get no gradient in a step.

    The wrapped model is `self.module`; `state_dict()` keys start with "module.", as in
    PyTorch. Collective statistics of the last step are in `self.comm_stats`:
    `allreduce_s` (time the reductions took from start to completion) and `exposed_s` (the
    part of it backward had to wait for at its end).
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0,
                 broadcast_buffers=True, process_group=None, bucket_cap_mb=None,
                 find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False):
        super().__init__()
        if device_ids is not None or output_device is not None:
            raise ValueError(
                "DistributedDataParallel device_ids and output_device arguments only work with "
                "single-device/multiple-device GPU modules or CPU modules, but got device_ids "
                f"{device_ids}, output_device {output_device}, and module parameters "
                "{device(type='cpu')}.")
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel expects an nn.Module, got "
                            f"{type(module).__name__}")
        params = []
        for p in module.parameters():
            if p.requires_grad and all(p is not q for q in params):
                params.append(p)
        if not params:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't "
                               "have any parameter that requires a gradient.")
        self.module = module
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.bucket_cap_mb = 25 if bucket_cap_mb is None else bucket_cap_mb
        self.world_size = dist.get_world_size()
        self._require_sync = True
        self._expect_reduction = False
        self._finished = True
        self.comm_stats = {"allreduce_s": 0.0, "exposed_s": 0.0, "buckets": 0}

        with no_grad():
            for t in list(module.parameters()) + [b for b in module.buffers() if b is not None]:
                dist.broadcast(t, 0)
        self._buckets = self._make_buckets(params, int(self.bucket_cap_mb * 2 ** 20))
        self._bucket_of = {}
        for b in self._buckets:
            for p in b.params:
                self._bucket_of[id(p)] = b
        self._handles = [p.register_post_accumulate_grad_hook(self._on_grad) for p in params]

    @staticmethod
    def _make_buckets(params, cap_bytes):
        buckets, current, size = [], [], 0
        for p in reversed(params):
            nbytes = p.numel() * p.element_size()
            if current and (size + nbytes > cap_bytes or p.dtype != current[0].dtype):
                buckets.append(_Bucket(current))
                current, size = [], 0
            current.append(p)
            size += nbytes
        if current:
            buckets.append(_Bucket(current))
        return buckets

    # ------------------------------------------------------------------ forward

    def forward(self, *inputs, **kwargs):
        if not self._finished:
            raise RuntimeError(
                "Expected to have finished reduction in the prior iteration before starting a "
                "new one. This error indicates that your module has parameters that were not "
                "used in producing loss. You can enable unused parameter detection by passing "
                "the keyword argument `find_unused_parameters=True` to "
                "`torch.nn.parallel.DistributedDataParallel`, and by making sure all `forward` "
                "function outputs participate in calculating loss.")
        if self.broadcast_buffers and self.world_size > 1:
            with no_grad():
                for b in self.module.buffers():
                    if b is not None:
                        dist.broadcast(b, 0)
        out = self.module(*inputs, **kwargs)
        if is_grad_enabled() and self._require_sync:
            self._prepare_for_backward(out)
        return out

    def _prepare_for_backward(self, out):
        for b in self._buckets:
            b.pending, b.flat, b.work = len(b.params), None, None
        self._launched = 0
        self._used = {id(p): False for b in self._buckets for p in b.params}
        self._expect_reduction = True
        self.comm_stats = {"allreduce_s": 0.0, "exposed_s": 0.0,
                           "buckets": len(self._buckets)}
        self._started = {}
        if self.find_unused_parameters:
            reached = _reachable_leaves(out)
            for b in self._buckets:
                for p in b.params:
                    if id(p) not in reached:
                        self._mark_ready(p, used=False)

    # ------------------------------------------------------------------ backward hooks

    def _on_grad(self, param):
        if not self._require_sync or not self._expect_reduction:
            return
        self._finished = False
        self._mark_ready(param, used=True)
        for b in self._buckets:                 # let MPI move the reductions in flight
            if b.work is not None:
                b.work.is_completed()

    def _mark_ready(self, param, used):
        if self._used.get(id(param)):
            return                               # a parameter used twice fires once per use
        self._used[id(param)] = used
        bucket = self._bucket_of[id(param)]
        bucket.pending -= 1
        if bucket.pending == 0:
            self._launch(bucket)

    def _launch(self, bucket):
        parts = []
        for p in bucket.params:
            g = p.grad
            parts.append(np.zeros(p.numel(), p.dtype.np_dtype) if g is None
                         else g.detach()._numpy().reshape(-1))
        bucket.flat = _tensor_of(np.concatenate(parts))
        self._started[id(bucket)] = time.perf_counter()
        bucket.work = dist.all_reduce(bucket.flat, async_op=True)
        self._launched += 1
        if self._launched == len(self._buckets):
            self._finish()

    def _finish(self):
        t0 = time.perf_counter()
        for b in self._buckets:
            b.work.wait()
        done = time.perf_counter()
        self.comm_stats["exposed_s"] = done - t0
        self.comm_stats["allreduce_s"] = done - min(self._started.values())
        used = None
        if self.find_unused_parameters:
            flags = [self._used[id(p)] for b in self._buckets for p in b.params]
            used = _tensor_of(np.array(flags, dtype=np.int64))
            dist.all_reduce(used, op=dist.ReduceOp.MAX)
            used = used.tolist()
        k = 0
        with no_grad():
            for b in self._buckets:
                avg = b.flat.detach()._numpy()
                avg /= self.world_size
                offset = 0
                for p in b.params:
                    n = p.numel()
                    piece = avg[offset:offset + n].reshape(tuple(p.shape))
                    offset += n
                    if used is not None and not used[k]:
                        k += 1
                        continue                  # no rank used it: its .grad is left alone
                    k += 1
                    if p.grad is None:
                        p.grad = _tensor_of(piece.copy())
                    else:
                        p.grad.detach()._numpy()[...] = piece
                        p.grad._bump_version()
                b.flat = b.work = None
        self._expect_reduction = False
        self._finished = True

    # ------------------------------------------------------------------ API

    @contextlib.contextmanager
    def no_sync(self):
        """Inside, backward accumulates local gradients without reducing them.

        >>> # with ddp.no_sync(): loss(ddp(x1)).backward()   # accumulate
        >>> # loss(ddp(x2)).backward()                        # reduce the sum of both
        """
        previous = self._require_sync
        self._require_sync = False
        try:
            yield
        finally:
            self._require_sync = previous

    def extra_repr(self):
        return ""


def _tensor_of(array):
    return from_numpy(np.ascontiguousarray(array))


def _reachable_leaves(out):
    """ids of the leaf tensors the autograd graph of `out` reaches (explicit stack)."""
    roots = []
    stack = [out]
    while stack:                      # outputs may be nested tuples, lists or dicts
        o = stack.pop()
        if isinstance(o, Tensor):
            if o.grad_fn is not None:
                roots.append(o.grad_fn)
        elif isinstance(o, (list, tuple)):
            stack.extend(o)
        elif isinstance(o, dict):
            stack.extend(o.values())
    reached, seen = set(), set()
    while roots:
        node = roots.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, AccumulateGrad):
            reached.add(id(node.variable))
            continue
        for edge in node._edges:
            if edge is not None:
                roots.append(edge[0])
    return reached
