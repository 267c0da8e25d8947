"""irkit.datasets.samplers: the order of mmengine's InfiniteSampler, exact positions for --resume,
seeded draws (a resumed run through tools/train.py: tests/e2e/test_resume_position.py)."""
import itertools

import torch

from irkit.datasets.samplers import InfiniteSampler, SampleIndex, seeded_sample


class _Size:
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n


def test_sampler_order_equals_mmengine_and_positions_are_exact():
    """Same indices as mmengine's InfiniteSampler for every rank; set_position(k) == dropping k."""
    from mmengine.dataset import InfiniteSampler as Reference
    for n, shuffle, world in ((7, True, 1), (7, True, 3), (5, False, 2), (2, True, 5)):
        for rank in range(world):
            ref, ours = Reference(_Size(n), shuffle, seed=9), InfiniteSampler(_Size(n), shuffle, seed=9)
            for s in (ref, ours):
                s.rank, s.world_size = rank, world
            ref.indices = ref._indices_of_rank()
            ours.set_position(0)
            expected = list(itertools.islice(iter(ref), 40))
            got = list(itertools.islice(iter(ours), 40))
            assert got == expected, (n, shuffle, world, rank)
            for k in (1, 6, 23):
                ours.set_position(k)
                again = list(itertools.islice(iter(ours), 10))
                assert again == expected[k:k + 10]
                # the per-sample seeds follow the position too
                assert [i.seed for i in again] == [i.seed for i in got[k:k + 10]]
    # two processes split one stream: their seeds never collide
    a, b = InfiniteSampler(_Size(4), seed=1), InfiniteSampler(_Size(4), seed=1)
    a.rank, a.world_size, b.rank, b.world_size = 0, 2, 1, 2
    a.set_position(0), b.set_position(0)
    seeds = [i.seed for i in itertools.islice(iter(a), 50)] + [i.seed for i in itertools.islice(iter(b), 50)]
    assert len(set(seeds)) == 100


def test_seeded_sample_fixes_the_draws_and_restores_the_stream():
    torch.manual_seed(0)
    state = torch.get_rng_state()
    with seeded_sample(SampleIndex(3, seed=42)):
        first = torch.rand(3)
    assert torch.equal(torch.get_rng_state(), state)  # the process's stream did not move
    torch.rand(5)  # whatever ran before in this process (another worker's samples)
    with seeded_sample(SampleIndex(8, seed=42)):
        second = torch.rand(3)
    assert torch.equal(first, second)
    with seeded_sample(3):  # a plain index: the process's stream, as before
        plain = torch.rand(3)
    assert not torch.equal(plain, first)
