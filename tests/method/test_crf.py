"""The CRF against brute-force enumeration of every tag sequence on tiny inputs."""
import itertools

import pytest
import torch

from shapca.crf import CRF, bio_constraints

BIO = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def valid(sequence, tags):
    if tags is None:
        return True
    allowed_start, allowed = bio_constraints(tags)
    return bool(allowed_start[sequence[0]]) and all(bool(allowed[a, b]) for a, b in zip(sequence, sequence[1:]))


def path_score(crf, emissions, sequence):
    """The score of one sequence from the learned parameters (no constraint penalty)."""
    score = crf.start[sequence[0]] + crf.end[sequence[-1]]
    score = score + sum(emissions[n, tag] for n, tag in enumerate(sequence))
    return score + sum(crf.transitions[a, b] for a, b in zip(sequence, sequence[1:]))


def setup(num_tags, bio_tags, seed):
    torch.manual_seed(seed)
    crf = CRF(num_tags, bio_tags).double()
    with torch.no_grad():  # larger parameters than the init so that transitions matter
        for parameter in crf.parameters():
            parameter.normal_()
    lengths = [4, 2, 3, 1]
    emissions = torch.randn(len(lengths), max(lengths), num_tags, dtype=torch.double)
    mask = torch.arange(max(lengths)) < torch.tensor(lengths).unsqueeze(1)
    return crf, emissions, mask, lengths


@pytest.mark.parametrize("scan", [False, True])
@pytest.mark.parametrize("bio_tags", [None, BIO])
def test_likelihood_and_viterbi_equal_brute_force(bio_tags, scan):
    num_tags = len(BIO) if bio_tags else 3
    crf, emissions, mask, lengths = setup(num_tags, bio_tags, seed=0)
    gold = []
    expected_nll, expected_best = [], []
    gen = torch.Generator().manual_seed(1)
    for row, length in enumerate(lengths):
        sequences = [s for s in itertools.product(range(num_tags), repeat=length) if valid(s, bio_tags)]
        scores = torch.stack([path_score(crf, emissions[row], s) for s in sequences])
        chosen = sequences[int(torch.randint(len(sequences), (1,), generator=gen))]
        gold.append(list(chosen) + [-100] * (mask.shape[1] - length))  # padding holds an ignore id
        expected_nll.append(torch.logsumexp(scores, 0) - path_score(crf, emissions[row], chosen))
        expected_best.append(list(sequences[int(scores.argmax())]))
    nll = crf.neg_log_likelihood(emissions, torch.tensor(gold), mask, scan=scan)
    torch.testing.assert_close(nll, torch.stack(expected_nll).mean())
    assert crf.decode(emissions, mask) == expected_best


def test_padding_does_not_matter():
    crf, emissions, mask, _ = setup(len(BIO), BIO, seed=2)
    tags = torch.zeros(mask.shape, dtype=torch.long)
    noisy = emissions.masked_fill(~mask.unsqueeze(-1), 0.0) + 50.0 * (~mask).unsqueeze(-1).double()
    torch.testing.assert_close(crf.neg_log_likelihood(emissions, tags, mask),
                               crf.neg_log_likelihood(noisy, tags, mask))
    assert crf.decode(emissions, mask) == crf.decode(noisy, mask)


@pytest.mark.parametrize("length", [1, 2, 37, 64])
def test_the_scan_equals_the_loop_in_value_and_gradients(length):
    """Real sizes (Twitter's 9 BIO tags, 16 rows of every length up to `length`): in float64 the two are the same
    function; in float32, as trained, the loss and the emissions' gradients agree to 1e-5, and the parameters'
    gradients (sums over every position of the batch) to float32 rounding of such sums."""
    tags9 = ["O"] + [f"{p}-{t}" for t in ("PER", "LOC", "ORG", "MISC") for p in "BI"]
    torch.manual_seed(5)
    lengths = torch.randint(1, length + 1, (16,))
    lengths[0] = length
    mask = torch.arange(length) < lengths.unsqueeze(1)
    emissions = 4 * torch.randn(16, length, len(tags9), dtype=torch.double)
    gold = torch.randint(0, len(tags9), (16, length))
    crf = CRF(len(tags9), tags9).double()
    with torch.no_grad():
        for parameter in crf.parameters():
            parameter.normal_()
    for dtype, (loss_tol, parameter_rtol) in {torch.double: (1e-10, 1e-10), torch.float: (1e-5, 1e-4)}.items():
        crf = crf.to(dtype)
        results = []
        for scan in (False, True):
            crf.zero_grad()
            em = emissions.to(dtype).clone().requires_grad_()  # a fresh leaf each time
            nll = crf.neg_log_likelihood(em, gold, mask, scan=scan)
            nll.backward()
            results.append((nll.detach(), em.grad, [p.grad.clone() for p in crf.parameters()]))
        (loss_a, em_a, params_a), (loss_b, em_b, params_b) = results
        assert em_a is not None and em_b is not None
        torch.testing.assert_close(loss_b, loss_a, rtol=loss_tol, atol=loss_tol)
        torch.testing.assert_close(em_b, em_a, rtol=loss_tol, atol=loss_tol)
        for a, b in zip(params_a, params_b):
            torch.testing.assert_close(b, a, rtol=parameter_rtol, atol=parameter_rtol)


def test_decoded_sequences_obey_the_bio_constraint():
    torch.manual_seed(3)
    crf = CRF(len(BIO), BIO)
    emissions = 3 * torch.randn(64, 7, len(BIO))
    emissions[..., 2] += 2.0  # push towards I-PER everywhere
    decoded = crf.decode(emissions, torch.ones(64, 7, dtype=torch.bool))
    assert all(valid(seq, BIO) for seq in decoded)
    unconstrained = CRF(len(BIO))
    unconstrained.load_state_dict(crf.state_dict())
    assert not all(valid(seq, BIO) for seq in unconstrained.decode(emissions, torch.ones(64, 7, dtype=torch.bool)))


def test_gradients_and_learning():
    torch.manual_seed(4)
    crf = CRF(3)
    emissions = torch.randn(2, 4, 3, requires_grad=True)
    tags = torch.tensor([[0, 1, 2, 0], [2, 2, 1, 1]])
    mask = torch.ones(2, 4, dtype=torch.bool)
    optimiser = torch.optim.Adam([emissions, *crf.parameters()], lr=0.1)
    first = None
    for _ in range(50):
        optimiser.zero_grad()
        loss = crf.neg_log_likelihood(emissions, tags, mask)
        first = first if first is not None else loss.item()
        loss.backward()
        assert crf.transitions.grad.abs().sum() > 0 and emissions.grad.abs().sum() > 0
        optimiser.step()
    assert loss.item() < 0.2 * first
    assert crf.decode(emissions, mask) == tags.tolist()


def test_clear_errors():
    crf = CRF(3)
    emissions = torch.randn(2, 3, 3)
    with pytest.raises(ValueError, match="left-aligned"):
        crf.decode(emissions, torch.tensor([[True, False, True], [True, True, True]]))
    with pytest.raises(ValueError, match="left-aligned"):
        crf.decode(emissions, torch.tensor([[False, False, False], [True, True, True]]))
    with pytest.raises(ValueError, match="emissions must be"):
        crf.decode(torch.randn(2, 3, 4), torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"bio_tags\[1\]"):
        CRF(2, ["O", "PER"])
    with pytest.raises(ValueError, match="num_tags is 3"):
        CRF(3, ["O", "B-PER"])


def test_collate_builds_the_left_aligned_word_masks_the_crf_trusts_off_cpu():
    from shapca.features import Encoded, collate

    items = [Encoded([101, 7, 8, 9, 102], starts, [101, 102], 5, (0, 0), i)
             for i, starts in enumerate(([1, 2, 3], [1], [1, 3]))]
    mask = collate(items, 0)["word_mask"]
    assert mask.tolist() == [[True, True, True], [True, False, False], [True, True, False]]
    assert bool(mask[:, 0].all()) and not bool((mask[:, 1:] & ~mask[:, :-1]).any())
