"""Data-parallel training over processes started by ``torchrun``.

``torchrun --nproc_per_node 2 cli.py fit m2 ...`` starts two processes; :func:`init` joins
them into one process group (gloo on CPUs, NCCL on GPUs, one GPU per process). Every process
holds the whole model and draws the same batches (the data order depends only on the seed
and the epoch); each one takes its own slice of every batch (:func:`shard`), and after the
backward pass the gradients are averaged across processes (:func:`averaging`) before the
optimiser steps. With equal slices, the mean of the slices' mean gradients is the mean
gradient of the whole batch, so a step is the step a single process takes on that batch (up
to the noise: each process draws its own). Only the first process (rank 0) evaluates and
writes the run folder.

This is what PyTorch's ``DistributedDataParallel`` does, written out here because Pyro's
``SVI`` owns the backward pass and the optimiser: the averaging runs in ``SVI``'s
``loss_and_grads`` hook, so model and guide code is the same in one process or many.
Batch normalisation, as in ``DistributedDataParallel`` without ``SyncBatchNorm``, normalises
each slice by its own statistics.
"""
import atexit
import os

import torch
from torch import distributed as dist

from .errors import PyrossError


def active():
    """Whether this process is one of several in a process group."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank():
    """This process's rank (0 when not distributed)."""
    return dist.get_rank() if active() else 0


def size():
    """The number of processes (1 when not distributed)."""
    return dist.get_world_size() if active() else 1


def is_main():
    """Whether this process writes files and prints: rank 0, or the only process."""
    return rank() == 0


def init(device):
    """Join the process group that ``torchrun`` set up in the environment, if any.

    :param str device: ``"cpu"`` (gloo) or ``"cuda"`` (NCCL, each process on GPU ``LOCAL_RANK``).
    :returns: the device this process trains on (``"cuda:LOCAL_RANK"`` on GPUs).
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or active():
        return device
    if device == "cuda":
        local = int(os.environ.get("LOCAL_RANK", "0"))
        if local >= torch.cuda.device_count():
            raise PyrossError(f"process {local} has no GPU of its own: {torch.cuda.device_count()} visible")
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    # leave the group while Python is still whole: a process that exits inside it can abort as
    # gloo's threads are torn down ("terminate called without an active exception")
    atexit.register(leave)
    return device


def leave():
    """Leave the process group, if this process is in one (at exit, registered by :func:`init`)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def from_main(value):
    """Rank 0's ``value`` (a picklable object), in every process."""
    if not active():
        return value
    box = [value]
    dist.broadcast_object_list(box, 0)
    return box[0]


def barrier():
    """Wait until every process gets here (e.g. until rank 0 has written the run folder)."""
    if active():
        dist.barrier()


def check_batch_size(batch_size, option="--batch-size"):
    """Raise a one-line error unless the processes can split ``batch_size`` (of ``option``) evenly."""
    if active() and batch_size % size():
        raise PyrossError(f"{option} {batch_size} must be a multiple of the {size()} processes")


def shard(index):
    """This process's slice of a batch of indices (the whole batch when it is smaller than the
    number of processes: averaging identical gradients changes nothing)."""
    if not active() or len(index) < size():
        return index
    return index.tensor_split(size())[rank()]


def broadcast_module(module):
    """Give every process rank 0's parameters and buffers."""
    if active():
        for tensor in module.state_dict().values():
            dist.broadcast(tensor, 0)


def _device():
    """Where collective operations' tensors live: the process's GPU under NCCL, else the CPU."""
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def any_process(flag):
    """Whether ``flag`` is true in any process (all processes must call this together)."""
    if not active():
        return flag
    value = torch.tensor([float(flag)], device=_device())
    dist.all_reduce(value)
    return value.item() > 0


def averaging(loss_fn, module):
    """A ``loss_and_grads`` for :class:`~pyro.infer.SVI`: ``loss_fn``'s gradients, averaged
    across processes, and its loss and ``terms`` averaged too (for the logs).

    :param loss_fn: the objective, ``loss_fn(model, guide, *args)`` → differentiable loss.
    :param module: the network whose parameters are trained.
    """
    params = [p for p in module.parameters() if p.requires_grad]

    def loss_and_grads(model, guide, *args, **kwargs):
        loss = loss_fn(model, guide, *args, **kwargs)
        loss.backward()
        terms = getattr(loss_fn, "terms", {})
        device = params[0].device
        grads = [p.grad.reshape(-1) if p.grad is not None else torch.zeros(p.numel(), device=device)
                 for p in params]
        has_grad = torch.tensor([float(p.grad is not None) for p in params], device=device)
        scalars = torch.tensor([loss.item(), *terms.values()], device=device, dtype=grads[0].dtype)
        flat = torch.cat([*grads, has_grad.to(scalars.dtype), scalars])
        dist.all_reduce(flat)
        flat /= size()
        offset = 0
        for p, present in zip(params, flat[-len(scalars) - len(params):-len(scalars)]):
            if present > 0:
                p.grad = flat[offset:offset + p.numel()].reshape(p.shape).clone()
            offset += p.numel()
        averaged = flat[-len(scalars):].tolist()
        for key, value in zip(terms, averaged[1:]):
            terms[key] = value
        return averaged[0]

    return loss_and_grads
