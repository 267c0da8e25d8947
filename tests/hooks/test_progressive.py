"""Restormer's progressive patch schedule and the mixup hooks."""
import pytest
import torch

from irkit.hooks.progressive import MixUpHook, ProgressivePatchHook
from irkit.registry import HOOKS

RESTORMER = dict(iters=[92000, 64000, 48000, 36000, 36000, 24000],
                 gt_sizes=[128, 160, 192, 256, 320, 384], mini_batch_sizes=[8, 5, 4, 2, 1, 1])


def test_stage_boundaries_follow_official_1_based_count():
    hook = HOOKS.build(dict(type='ProgressivePatchHook', **RESTORMER))
    assert hook.stage(1) == 0 and hook.stage(92000) == 0 and hook.stage(92001) == 1
    assert hook.stage(156000) == 1 and hook.stage(156001) == 2
    assert hook.stage(300000) == 5 and hook.stage(400000) == 5


def _batch(n=4, size=12):
    gt = torch.arange(n * 3 * size * size, dtype=torch.float32).reshape(n, 3, size, size)
    return {'gt': gt, 'lq': gt + 0.5, 'key': [f'k{i}' for i in range(n)]}


def test_subset_and_shared_window():
    torch.manual_seed(0)
    hook = ProgressivePatchHook(iters=[2, 2], gt_sizes=[4, 12], mini_batch_sizes=[2, 4])
    b = _batch()
    orig = b['gt'].clone()
    hook.apply(b, current_iter=1)
    assert b['gt'].shape == (2, 3, 4, 4) and b['lq'].shape == (2, 3, 4, 4)
    assert torch.equal(b['lq'], b['gt'] + 0.5)  # lq/gt stay aligned
    assert len(b['key']) == 2
    for i, key in enumerate(b['key']):  # each kept sample is a window of its original
        src = orig[int(key[1:])]
        found = any(torch.equal(src[:, t:t + 4, l:l + 4], b['gt'][i])
                    for t in range(9) for l in range(9))
        assert found
    b2 = _batch()
    hook.apply(b2, current_iter=3)  # last stage: full batch, full size
    assert torch.equal(b2['gt'], _batch()['gt'])


def test_list_batches_and_too_small_crops():
    torch.manual_seed(0)
    hook = ProgressivePatchHook(iters=[1], gt_sizes=[8], mini_batch_sizes=[1])
    b = {'gt': list(_batch()['gt']), 'lq': list(_batch()['lq'])}
    hook.apply(b, 1)
    assert isinstance(b['gt'], list) and len(b['gt']) == 1 and b['gt'][0].shape == (3, 8, 8)
    with pytest.raises(ValueError, match='max\\(gt_sizes\\)=16'):
        ProgressivePatchHook(iters=[1], gt_sizes=[16], mini_batch_sizes=[1]).apply(_batch(), 1)
    with pytest.raises(ValueError, match='same non-zero length'):
        ProgressivePatchHook(iters=[1, 2], gt_sizes=[16], mini_batch_sizes=[1])


def test_mixup_per_batch_lambda_keeps_pairs():
    torch.manual_seed(0)
    hook = MixUpHook(alpha=1.2)
    gt = torch.rand(4, 3, 5, 5)
    b = {'gt': gt.clone(), 'lq': 2 * gt.clone()}
    hook.apply(b)
    torch.testing.assert_close(b['lq'], 2 * b['gt'])
    # per-batch lambda: every output is lam*x_i + (1-lam)*x_perm(i) with one lam
    lam = None
    for i in range(4):
        for j in range(4):
            if i == j:
                continue
            d = gt[i] - gt[j]
            cand = ((b['gt'][i] - gt[j]) * d).sum() / (d * d).sum()
            if torch.allclose(cand * gt[i] + (1 - cand) * gt[j], b['gt'][i], atol=1e-5):
                lam = cand if lam is None else lam
                assert torch.isclose(cand, lam, atol=1e-4)


def test_mixup_identity_probability_and_start_iter():
    torch.manual_seed(0)
    hook = MixUpHook(alpha=1.2, identity_prob=0.5)
    unmixed = 0
    for _ in range(400):
        x = torch.rand(3, 1, 2, 2)
        b = {'gt': x.clone(), 'lq': x.clone()}
        hook.apply(b)
        unmixed += torch.equal(b['gt'], x)
    assert 160 < unmixed < 240  # about half, like Restormer's use_identity

    class R:
        iter = 3
    late = MixUpHook(alpha=0.6, per_sample=True, start_iter=5)
    x = torch.rand(3, 1, 2, 2)
    b = {'gt': x.clone(), 'lq': x.clone()}
    late.before_train_iter(R(), 0, b)
    assert torch.equal(b['gt'], x)


def test_mixup_per_sample_lambdas_follow_beta():
    """One-hot images reveal each lambda: out[i] = lam_i e_i + (1 - lam_i) e_perm(i)."""
    import numpy as np
    torch.manual_seed(0)
    n = 64
    eye = torch.eye(n).view(n, n, 1, 1)
    hook = MixUpHook(alpha=0.6, per_sample=True)
    lams = []
    for _ in range(40):
        batch = dict(gt=eye.clone(), lq=2 * eye + 1)
        hook.apply(batch)
        assert torch.allclose(batch['lq'], 2 * batch['gt'] + 1, atol=1e-6)  # same lambda and permutation
        o = batch['gt'][:, :, 0, 0]
        assert np.allclose(o.sum(1).numpy(), 1, atol=1e-5)  # convex combinations
        moved = (o - torch.diag(torch.diag(o))).max(1).values > 0  # perm(i) != i
        lams.append(torch.diag(o)[moved].numpy())
    lams = np.concatenate(lams)
    assert len(lams) > 1500 and ((lams >= 0) & (lams <= 1)).all()
    assert abs(lams.mean() - 0.5) < 0.03
    assert abs(lams.var() - 0.36 / (1.44 * 2.2)) < 0.01  # Var of Beta(0.6, 0.6) = 0.1136
