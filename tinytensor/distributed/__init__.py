"""`tinytensor.distributed`: PyTorch's collective API over MPI, for data-parallel training.

Processes are started by an MPI launcher (`mpirun -n 2 python train.py`, or `srun` under
Slurm); `init_process_group()` reads each process's rank and the world size from MPI. The
transport is MPI itself, through mpi4py (`pip install ".[distributed]"` brings mpi4py and an
MPICH; a system MPI that mpi4py finds works too).

    import tinytensor.distributed as dist
    dist.init_process_group("mpi")
    t = tt.ones(3) * dist.get_rank()
    dist.all_reduce(t)                      # in place: the sum over ranks, on every rank

Every collective works in place on contiguous or strided tensors of float32, float64 or int64
(bool for broadcast and gathers), blocks unless `async_op=True` (then it returns a `Work`
whose `wait()` finishes it), and raises RuntimeError after the group's timeout instead of
waiting forever for a rank that died. An unhandled exception in any rank aborts the whole job
(MPI_Abort), so `mpirun` exits non-zero instead of leaving the other ranks hanging.
"""
from tinytensor.distributed.collectives import (ReduceOp, Work, all_gather, all_reduce,
                                                barrier, broadcast, destroy_process_group,
                                                gather, get_backend, get_rank, get_world_size,
                                                init_process_group, is_available,
                                                is_initialized, is_mpi_available, reduce,
                                                scatter)

__all__ = ["ReduceOp", "Work", "all_gather", "all_reduce", "barrier", "broadcast",
           "destroy_process_group", "gather", "get_backend", "get_rank", "get_world_size",
           "init_process_group", "is_available", "is_initialized", "is_mpi_available", "reduce",
           "scatter"]
