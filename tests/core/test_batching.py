"""Length bucketing: every example once per epoch, seeded, split over ranks as before, with less padding; and an
evaluation in length order that scores exactly as one in stored order."""
import random

import pytest
import torch

from shapca.batching import epoch_order, evaluation_order
from shapca.prepare import prepare

from tests.core.test_trainer import QUIET, small

_rng = random.Random(3)
LENGTHS = [_rng.randint(5, 90) for _ in range(1000)]


def batches(order, size):
    return [order[s: s + size] for s in range(0, len(order), size)]


def padded_over_real(order, size, lengths=LENGTHS):
    return sum(max(lengths[i] for i in b) * len(b) for b in batches(order, size)) / sum(lengths[i] for i in order)


def test_pool_zero_is_the_plain_seeded_shuffle():
    expected = torch.randperm(len(LENGTHS), generator=torch.Generator().manual_seed(4 * 1_000_003 + 2)).tolist()
    assert epoch_order(LENGTHS, seed=4, epoch=2, per_rank=16, world=1, rank=0, pool=0) == expected


@pytest.mark.parametrize("pool", [0, 1, 50, 1000])
def test_every_example_once_per_epoch(pool):
    order = epoch_order(LENGTHS, seed=1, epoch=0, per_rank=16, world=1, rank=0, pool=pool)
    assert sorted(order) == list(range(len(LENGTHS)))


def test_bucketed_batches_pad_less_than_shuffled_ones():
    shuffled = epoch_order(LENGTHS, seed=1, epoch=0, per_rank=16, world=1, rank=0, pool=0)
    bucketed = epoch_order(LENGTHS, seed=1, epoch=0, per_rank=16, world=1, rank=0, pool=50)
    assert padded_over_real(shuffled, 16) > 1.4
    assert padded_over_real(bucketed, 16) < 1.05


def test_the_order_is_seeded_and_changes_with_epoch_and_seed():
    def run(seed, epoch):
        return epoch_order(LENGTHS, seed=seed, epoch=epoch, per_rank=16, world=1, rank=0, pool=50)
    assert run(1, 0) == run(1, 0)
    assert run(1, 0) != run(1, 1) and run(1, 0) != run(2, 0)
    # the batches themselves come in a shuffled order, not shortest first
    maxima = [max(LENGTHS[i] for i in b) for b in batches(run(1, 0), 16)]
    assert maxima != sorted(maxima)


@pytest.mark.parametrize("pool", [0, 50])
def test_ranks_take_disjoint_shares_of_each_global_batch(pool):
    n, per_rank, world = 203, 4, 3
    lengths = LENGTHS[:n]
    shares = [epoch_order(lengths, 1, 0, per_rank, world, rank, pool) for rank in range(world)]
    assert sorted(i for share in shares for i in share) == list(range(n))
    whole = epoch_order(lengths, 1, 0, per_rank * world, 1, 0, pool)  # the same global batches, on one rank
    for g, global_batch in enumerate(batches(whole, per_rank * world)):
        assert sorted(global_batch) == sorted(i for share in shares for i in share[g * per_rank: (g + 1) * per_rank])


def test_the_partial_batch_stays_last():
    lengths = LENGTHS[:997]  # 62 batches of 16, then 5
    order = epoch_order(lengths, seed=1, epoch=0, per_rank=16, world=1, rank=0, pool=50)
    assert len(batches(order, 16)[-1]) == 5


def test_evaluation_order_sorts_by_length_only_when_asked():
    assert evaluation_order([3, 1, 2], by_length=False) == [0, 1, 2]
    assert evaluation_order([3, 1, 2], by_length=True) == [1, 2, 0]


@pytest.mark.parametrize("dataset,context", [("twitter2017", "blip2"), ("mnre", "llava_next")])
def test_evaluation_in_length_order_scores_as_in_stored_order(dataset, context):
    from shapca.trainer import Trainer

    cfg = small(dataset, context, **{"data.limit_eval": 24, "train.eval_batch_size": 8})
    prep = prepare(cfg, **QUIET)
    assert evaluation_order(Trainer(cfg, prep=prep, **QUIET).lengths["dev"], True) != list(range(24))
    results = []
    for pool in (0, 50):
        cfg.update({"train.length_bucket_pool": pool})
        results.append(Trainer(cfg, prep=prep, **QUIET).evaluate("dev"))
    (scores_stored, rows_stored), (scores_sorted, rows_sorted) = results
    assert rows_sorted == rows_stored
    assert scores_sorted == pytest.approx(scores_stored)
