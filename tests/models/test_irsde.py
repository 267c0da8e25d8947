"""IR-SDE schedule and step identities (independent float64 references)."""
import math

import numpy as np
import pytest
import torch

from irkit.models.irsde import IRSDE, MatchingLoss


def test_cosine_schedule_closed_form():
    sde = IRSDE(max_sigma=50, T=100, schedule='cosine', eps=0.005)
    T, s = 100, 0.008
    x = np.linspace(0, T + 2, T + 3)
    ac = np.cos(((x / (T + 2)) + s) / (1 + s) * np.pi / 2) ** 2
    thetas = 1 - (ac / ac[0])[1:-1]
    assert len(thetas) == T + 1 and sde.thetas.shape == (T + 1, )
    cums = np.cumsum(thetas) - thetas[0]
    dt = -math.log(0.005) / cums[-1]
    ms = 50 / 255
    np.testing.assert_allclose(sde.thetas.numpy(), thetas, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sde.sigmas.numpy(), np.sqrt(2 * ms ** 2 * thetas), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(sde.thetas_cumsum.numpy(), cums, atol=1e-5)
    assert float(sde.dt) == pytest.approx(dt, rel=1e-5)
    np.testing.assert_allclose(sde.sigma_bars.numpy(), ms * np.sqrt(1 - np.exp(-2 * cums * dt)),
                               atol=1e-6)
    assert float(sde.sigma_bars[0]) == 0
    assert float(sde.sigma_bars[-1]) == pytest.approx(ms * math.sqrt(1 - 0.005 ** 2), rel=1e-5)


def _data():
    g = torch.Generator().manual_seed(0)
    return (torch.rand(2, 3, 8, 8, generator=g), torch.rand(2, 3, 8, 8, generator=g),
            torch.randn(2, 3, 8, 8, generator=g))


def test_marginals_noise_and_x0_inverses():
    sde = IRSDE(max_sigma=50)
    x0, mu, eps = _data()
    sde.set_mu(mu)
    t = torch.tensor([3, 71]).view(2, 1, 1, 1)
    xt = sde.mu_bar(x0, t) + sde.sigma_bar(t) * eps
    assert torch.allclose(sde.get_real_noise(xt, x0, t), eps, atol=1e-4)
    assert torch.allclose(sde.get_init_state_from_noise(xt, eps, t), x0, atol=1e-4)
    assert torch.allclose(sde.get_score_from_noise(eps, t), sde.get_real_score(xt, x0, t),
                          rtol=1e-3, atol=1e-3)
    # at T the mean is (1 - eps) of the way to mu
    assert torch.allclose(sde.mu_bar(x0, 100), mu + (x0 - mu) * 0.005, atol=1e-6)


def test_optimum_step_reproduces_x0_at_t1():
    sde = IRSDE(max_sigma=50)
    x0, mu, xt = _data()
    sde.set_mu(mu)
    assert torch.allclose(sde.reverse_optimum_step(xt, x0, 1), x0, atol=1e-6)
    assert float(sde.reverse_optimum_std(1)) < 1e-6
    # posterior mean is between the two for t > 1: coefficients as closed-form Gaussian posterior
    t = 40
    a = math.exp(-float(sde.thetas[t] * sde.dt))
    b = math.exp(-float(sde.thetas_cumsum[t] * sde.dt))
    c = math.exp(-float(sde.thetas_cumsum[t - 1] * sde.dt))
    ref = mu + a * (1 - c ** 2) / (1 - b ** 2) * (xt - mu) + c * (1 - a ** 2) / (1 - b ** 2) * (x0 - mu)
    assert torch.allclose(sde.reverse_optimum_step(xt, x0, t), ref, atol=1e-5)
    var = (1 - a ** 2) * (1 - c ** 2) / (1 - b ** 2)
    assert float(sde.reverse_optimum_std(t)) == pytest.approx(math.sqrt(var) * 50 / 255, rel=1e-4)


def test_reverse_mean_with_true_score_matches_drift():
    sde = IRSDE(max_sigma=50)
    x0, mu, xt = _data()
    sde.set_mu(mu)
    score = torch.randn_like(xt)
    t = 10
    ref = xt - (sde.thetas[t] * (mu - xt) - sde.sigmas[t] ** 2 * score) * sde.dt
    assert torch.allclose(sde.reverse_sde_step_mean(xt, score, t), ref)


def test_posterior_sampler_with_oracle_noise_recovers_x0():
    sde = IRSDE(max_sigma=50, T=20)
    x0, mu, _ = _data()
    sde.set_mu(mu)
    sde.set_model(lambda x, m, t: sde.get_real_noise(x, x0, int(round(t))))
    torch.manual_seed(0)
    out = sde.reverse_posterior(sde.noise_state(mu))
    assert torch.allclose(out, x0, atol=1e-4)


def test_generate_random_states_and_sample_T():
    sde = IRSDE(max_sigma=50, T=100, sample_T=50)
    assert sde.sample_scale == 2 and sde.thetas.shape == (51, )
    sde = IRSDE(max_sigma=0.1)
    assert sde.max_sigma == 0.1
    x0, mu, _ = _data()
    torch.manual_seed(0)
    t, xt = IRSDE(max_sigma=50).generate_random_states(x0, mu)
    assert t.shape == (2, 1, 1, 1) and int(t.min()) >= 1 and int(t.max()) <= 100
    assert xt.shape == x0.shape
    with pytest.raises(ValueError, match='schedule'):
        IRSDE(50, schedule='cosin')


def test_matching_loss_per_sample_mean():
    a, b = torch.zeros(2, 1, 2, 2), torch.tensor([1., 2.]).view(2, 1, 1, 1).expand(2, 1, 2, 2)
    assert float(MatchingLoss('l1')(a, b)) == pytest.approx(1.5)
    assert float(MatchingLoss('l2')(a, b)) == pytest.approx(2.5)
