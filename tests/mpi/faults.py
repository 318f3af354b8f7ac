"""Run under `mpirun -n 2 python faults.py MODE`: rank 1 fails mid-training in one of three
ways, and the job must end (non-zero) instead of leaving rank 0 waiting forever.

MODE raise: rank 1 raises; kill: rank 1 is SIGKILLed; stall: rank 1 stops taking part and
rank 0's collective times out (2 s)."""
import datetime
import os
import signal
import sys
import time

import tinytensor as tt
import tinytensor.distributed as dist
import tinytensor.nn as nn
from tinytensor.nn.parallel import DistributedDataParallel as DDP

mode = sys.argv[1]
dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=2))
rank = dist.get_rank()
model = DDP(nn.Linear(4, 2))
for step in range(1000):
    if rank == 1 and step == 3:
        if mode == "raise":
            raise ValueError("rank 1 fails on purpose")
        if mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if mode == "stall":
            time.sleep(60)
    model(tt.ones(2, 4)).sum().backward()
print("unreachable: the job should have ended", flush=True)
