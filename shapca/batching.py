"""Which examples go into which batch: the seeded epoch order for training, and the order of evaluation.

A batch is padded to its longest sequence, so random batches of tweets carry about 1.6 pad tokens for every real
one (`python benchmarks/length_buckets.py`). Length bucketing cuts that: the shuffled epoch is split into pools
of `pool` global batches, each pool is sorted by length and cut into batches, and the batches are shuffled again,
so every epoch still sees every example once in a seeded random order of batches of similar length.
"""
from __future__ import annotations

import torch


def _generator(seed: int, epoch: int, salt: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch + salt)


def epoch_order(lengths: list[int], seed: int, epoch: int, per_rank: int, world: int, rank: int,
                pool: int) -> list[int]:
    """This rank's example indices for one epoch, batch after batch (`per_rank` at a time).

    Global batches of `per_rank * world` examples, each rank taking its stride of every one; `pool == 0` is the
    plain shuffle. The last, partial batch stays last, so ranks see the same number of steps as before.
    """
    order = torch.randperm(len(lengths), generator=_generator(seed, epoch)).tolist()
    step = per_rank * world
    if pool > 0:
        span = pool * step
        batches = []
        for start in range(0, len(order), span):
            chunk = sorted(order[start: start + span], key=lambda i: lengths[i])  # stable: ties keep the shuffle
            batches += [chunk[s: s + step] for s in range(0, len(chunk), step)]
        tail = [batches.pop()] if batches and len(batches[-1]) < step else []
        shuffled = torch.randperm(len(batches), generator=_generator(seed, epoch, salt=7)).tolist()
        order = [i for b in [batches[j] for j in shuffled] + tail for i in b]
    return [i for s in range(0, len(order), step) for i in order[s: s + step][rank:: world]]


def evaluation_order(lengths: list[int], by_length: bool) -> list[int]:
    """The order in which a split is evaluated: by length (less padding), else as stored. Predictions are put
    back in stored order by the caller."""
    indices = list(range(len(lengths)))
    return sorted(indices, key=lambda i: lengths[i]) if by_length else indices


def sequence_length(encoded) -> int:
    """What a batch pads: the joint (or text) sequence plus the separate context sequence."""
    return len(encoded.input_ids) + len(encoded.context_ids)
