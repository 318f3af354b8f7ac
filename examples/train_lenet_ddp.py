"""Train the lecture's LeNet-like network data-parallel over MPI, one process per rank.

    pip install ".[distributed]"
    mpirun -n 2 python examples/train_lenet_ddp.py               # 2 ranks on this machine
    mpirun -n 2 python examples/train_lenet_ddp.py --resume lenet_ddp.ckpt.npz
    srun python examples/train_lenet_ddp.py                       # under a Slurm allocation

Each rank reads its share of every epoch (DistributedSampler) with `--batch-size` images per
step; DistributedDataParallel averages the gradients over the ranks during backward, so the
replicas stay identical and the effective batch is ranks x batch size. Rank 0 prints progress,
evaluates, and writes a checkpoint (model, optimizer, epoch) after every epoch; `--resume`
continues from it on any number of ranks. With the defaults (2 ranks x 32 images, the same
64-image steps as examples/train_lenet.py) it reaches the single-process example's accuracy,
about 97% on the bundled sample.
"""
import argparse
import os
import sys
import time

import tinytensor as tt
import tinytensor.distributed as dist
import tinytensor.nn.functional as F
from tinytensor import optim
from tinytensor.nn.parallel import DistributedDataParallel as DDP
from tinytensor.utils.data import DataLoader, TensorDataset
from tinytensor.utils.data.distributed import DistributedSampler

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_lenet import Net, evaluate, load_split  # noqa: E402  (the lecture's network, as is)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=32, help="images per step on each rank")
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--threads", type=int, default=1, help="kernel threads per rank")
    p.add_argument("--data", metavar="DIR", default=None, help="full MNIST IDX files")
    p.add_argument("--limit", type=int, default=None, help="use only the first N images")
    p.add_argument("--checkpoint", default="lenet_ddp.ckpt.npz", help="written by rank 0")
    p.add_argument("--resume", metavar="PATH", default=None, help="a checkpoint to continue")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    tt.set_num_threads(args.threads)
    tt.manual_seed(args.seed)                  # DDP broadcasts rank 0's weights anyway

    x_train, y_train, stats = load_split(args.data, True, args.limit)
    x_test, y_test, _ = load_split(args.data, False, args.limit, stats)
    dataset = TensorDataset(x_train, y_train)
    sampler = DistributedSampler(dataset, seed=args.seed)     # rank's share of each epoch
    loader = DataLoader(dataset, batch_size=args.batch_size, sampler=sampler)

    model = DDP(Net())
    opt = optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    first_epoch = 1
    if args.resume:
        state = tt.load(args.resume)
        model.module.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        first_epoch = state["epoch"] + 1
    if rank == 0:
        print(f"{world} rank(s) x {args.batch_size} images per step, "
              f"{len(y_train)} training images, epochs {first_epoch}..{args.epochs}")

    for epoch in range(first_epoch, args.epochs + 1):
        sampler.set_epoch(epoch)
        start, seen, loss_sum = time.perf_counter(), 0, 0.0
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            seen += len(yb)
            loss_sum += loss.item() * len(yb)
        seconds = time.perf_counter() - start
        if rank == 0:
            test_loss, test_acc = evaluate(model.module, x_test, y_test)
            print(f"epoch {epoch}: train loss {loss_sum / max(seen, 1):.4f} (rank 0's share)  "
                  f"test acc {100 * test_acc:.2f}%  {world * seen / seconds:,.0f} img/s",
                  flush=True)
            tt.save({"model": model.module.state_dict(), "optimizer": opt.state_dict(),
                     "epoch": epoch}, args.checkpoint)
        dist.barrier()                          # the checkpoint exists before anyone goes on

    test_loss, test_acc = evaluate(model.module, x_test, y_test)
    if rank == 0:
        print(f"test accuracy: {100 * test_acc:.2f}% ({round(test_acc * len(y_test))}/"
              f"{len(y_test)}); checkpoint: {args.checkpoint}")
    dist.destroy_process_group()
    return test_acc


if __name__ == "__main__":
    main()
