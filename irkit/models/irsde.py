"""IR-SDE: the mean-reverting SDE of image restoration.

Luo et al., "Image Restoration with Mean-Reverting Stochastic Differential
Equations" (ICML 2023); used by Universal-IR / DA-CLIP (ICLR 2024).
Official API: ``universal-image-restoration/utils/sde_utils.py::IRSDE`` of
github.com/Algolzw/daclip-uir.

    dx = theta_t (mu - x) dt + sigma_t dw,   sigma_t^2 / theta_t = 2 * max_sigma^2

with mu the LQ image. Steps ``t`` run from 1 to ``T``; index 0 is never a state.
The network predicts the noise; score = -noise / sigma_bar(t).

Note: the official class default is ``eps=0.01``; every released Universal-IR
config uses ``eps=0.005``, which is irkit's default.
"""
from __future__ import annotations

import math
from typing import Callable, Optional, Union

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ['IRSDE', 'MatchingLoss']

Tensorish = Union[torch.Tensor, float]


class IRSDE:
    """Mean-reverting SDE with the official schedules and steps.

    Args:
        max_sigma: stationary noise level; values >= 1 are in 0..255 units (50 -> 50/255).
        T: number of steps (training).
        sample_T: steps used by the samplers (-1: ``T``); the network is then called
            with ``t * T / sample_T``.
        schedule: ``'cosine'`` (improved-DDPM betas, s=0.008, over T+2 points,
            truncated to T+1), ``'linear'`` or ``'constant'``.
        eps: ``exp(-thetas_cumsum[T] * dt) = eps`` fixes ``dt``.
        device: where the schedule tensors live.

    Attributes: ``thetas``, ``sigmas``, ``thetas_cumsum``, ``sigma_bars`` (length
    ``sample_T + 1``), ``dt`` (0-d tensor), ``mu`` (set by :meth:`set_mu`), ``model``.
    """

    def __init__(self, max_sigma: float, T: int = 100, sample_T: int = -1,
                 schedule: str = 'cosine', eps: float = 0.005,
                 device: Optional[Union[str, torch.device]] = None) -> None:
        if schedule not in ('cosine', 'linear', 'constant'):
            raise ValueError(f"IRSDE: unknown schedule '{schedule}' (cosine, linear, constant)")
        self.T = T
        self.device = device
        self.max_sigma = max_sigma / 255 if max_sigma >= 1 else max_sigma
        self.sample_T = T if sample_T < 0 else sample_T
        self.sample_scale = self.T / self.sample_T
        self.schedule = schedule
        self.eps = eps
        self._initialize(self.max_sigma, self.sample_T, schedule, eps)

    # ------------------------------------------------------------------ schedule
    @staticmethod
    def _thetas(schedule: str, T: int) -> torch.Tensor:
        if schedule == 'constant':
            return torch.ones(T + 1, dtype=torch.float32)
        if schedule == 'linear':
            scale = 1000 / (T + 1)
            return torch.linspace(scale * 0.0001, scale * 0.02, T + 1, dtype=torch.float32)
        s = 0.008
        n = T + 2
        x = torch.linspace(0, n, n + 1, dtype=torch.float32)
        alphas_cumprod = torch.cos(((x / n) + s) / (1 + s) * math.pi * 0.5) ** 2
        alphas_cumprod = alphas_cumprod / alphas_cumprod[0]
        return 1 - alphas_cumprod[1:-1]

    def _initialize(self, max_sigma: float, T: int, schedule: str, eps: float) -> None:
        thetas = self._thetas(schedule, T)
        sigmas = torch.sqrt(max_sigma ** 2 * 2 * thetas)
        thetas_cumsum = torch.cumsum(thetas, dim=0) - thetas[0]
        self.dt = -1 / thetas_cumsum[-1] * math.log(eps)
        sigma_bars = torch.sqrt(max_sigma ** 2 * (1 - torch.exp(-2 * thetas_cumsum * self.dt)))
        self.thetas = thetas.to(self.device)
        self.sigmas = sigmas.to(self.device)
        self.thetas_cumsum = thetas_cumsum.to(self.device)
        self.sigma_bars = sigma_bars.to(self.device)
        self.dt = self.dt.to(self.device)
        self.mu: Tensorish = 0.
        self.model: Optional[Callable] = None

    def to(self, device: Union[str, torch.device]) -> 'IRSDE':
        """Move the schedule tensors (and ``mu``) to ``device``."""
        self.device = device
        for name in ('thetas', 'sigmas', 'thetas_cumsum', 'sigma_bars', 'dt'):
            setattr(self, name, getattr(self, name).to(device))
        if isinstance(self.mu, torch.Tensor):
            self.mu = self.mu.to(device)
        return self

    # ------------------------------------------------------------------ state
    def set_mu(self, mu: Tensorish) -> None:
        self.mu = mu

    def set_model(self, model: Callable) -> None:
        """``model(x, mu, t, **kwargs)`` returns the predicted noise."""
        self.model = model

    def _idx(self, t):
        return t.to(self.thetas.device) if isinstance(t, torch.Tensor) else t

    # ------------------------------------------------------------------ marginals
    def mu_bar(self, x0: torch.Tensor, t) -> torch.Tensor:
        return self.mu + (x0 - self.mu) * torch.exp(-self.thetas_cumsum[self._idx(t)] * self.dt)

    def sigma_bar(self, t) -> torch.Tensor:
        return self.sigma_bars[self._idx(t)]

    def sigma(self, t) -> torch.Tensor:
        return self.sigmas[self._idx(t)]

    def theta(self, t) -> torch.Tensor:
        return self.thetas[self._idx(t)]

    def weights(self, t) -> torch.Tensor:
        return torch.exp(-self.thetas_cumsum[self._idx(t)] * self.dt)

    # ------------------------------------------------------------------ drifts
    def drift(self, x: torch.Tensor, t) -> torch.Tensor:
        return self.theta(t) * (self.mu - x) * self.dt

    def sde_reverse_drift(self, x: torch.Tensor, score: torch.Tensor, t) -> torch.Tensor:
        return (self.theta(t) * (self.mu - x) - self.sigma(t) ** 2 * score) * self.dt

    def ode_reverse_drift(self, x: torch.Tensor, score: torch.Tensor, t) -> torch.Tensor:
        return (self.theta(t) * (self.mu - x) - 0.5 * self.sigma(t) ** 2 * score) * self.dt

    def dispersion(self, x: torch.Tensor, t) -> torch.Tensor:
        return self.sigma(t) * (torch.randn_like(x) * math.sqrt(float(self.dt)))

    # ------------------------------------------------------------------ steps
    def forward_step(self, x: torch.Tensor, t) -> torch.Tensor:
        return x + self.drift(x, t) + self.dispersion(x, t)

    def reverse_sde_step_mean(self, x: torch.Tensor, score: torch.Tensor, t) -> torch.Tensor:
        return x - self.sde_reverse_drift(x, score, t)

    def reverse_sde_step(self, x: torch.Tensor, score: torch.Tensor, t) -> torch.Tensor:
        return x - self.sde_reverse_drift(x, score, t) - self.dispersion(x, t)

    def reverse_ode_step(self, x: torch.Tensor, score: torch.Tensor, t) -> torch.Tensor:
        return x - self.ode_reverse_drift(x, score, t)

    def get_score_from_noise(self, noise: torch.Tensor, t) -> torch.Tensor:
        return -noise / self.sigma_bar(t)

    def get_real_noise(self, xt: torch.Tensor, x0: torch.Tensor, t) -> torch.Tensor:
        return (xt - self.mu_bar(x0, t)) / self.sigma_bar(t)

    def get_real_score(self, xt: torch.Tensor, x0: torch.Tensor, t) -> torch.Tensor:
        return -(xt - self.mu_bar(x0, t)) / self.sigma_bar(t) ** 2

    def get_init_state_from_noise(self, xt: torch.Tensor, noise: torch.Tensor, t) -> torch.Tensor:
        """x0 implied by ``xt`` and the noise at step ``t``."""
        A = torch.exp(self.thetas_cumsum[self._idx(t)] * self.dt)
        return (xt - self.mu - self.sigma_bar(t) * noise) * A + self.mu

    def reverse_optimum_step(self, xt: torch.Tensor, x0: torch.Tensor, t) -> torch.Tensor:
        """Mean of the posterior ``p(x_{t-1} | x_t, x_0)``."""
        t = self._idx(t)
        A = torch.exp(-self.thetas[t] * self.dt)
        B = torch.exp(-self.thetas_cumsum[t] * self.dt)
        C = torch.exp(-self.thetas_cumsum[t - 1] * self.dt)
        term1 = A * (1 - C ** 2) / (1 - B ** 2)
        term2 = C * (1 - A ** 2) / (1 - B ** 2)
        return term1 * (xt - self.mu) + term2 * (x0 - self.mu) + self.mu

    def reverse_optimum_std(self, t) -> torch.Tensor:
        """Standard deviation of ``p(x_{t-1} | x_t, x_0)``."""
        t = self._idx(t)
        A = torch.exp(-2 * self.thetas[t] * self.dt)
        B = torch.exp(-2 * self.thetas_cumsum[t] * self.dt)
        C = torch.exp(-2 * self.thetas_cumsum[t - 1] * self.dt)
        posterior_var = (1 - A) * (1 - C) / (1 - B)
        log_var = torch.log(torch.clamp(posterior_var, min=1e-20 * self.dt))
        return (0.5 * log_var).exp() * self.max_sigma

    def reverse_posterior_step(self, xt: torch.Tensor, noise: torch.Tensor, t) -> torch.Tensor:
        x0 = self.get_init_state_from_noise(xt, noise, t)
        mean = self.reverse_optimum_step(xt, x0, t)
        return mean + self.reverse_optimum_std(t) * torch.randn_like(xt)

    # ------------------------------------------------------------------ network
    def _require_model(self) -> Callable:
        if self.model is None:
            raise RuntimeError('IRSDE: call set_model(model) before sampling')
        return self.model

    def noise_fn(self, x: torch.Tensor, t, scale: float = 1.0, **kwargs) -> torch.Tensor:
        return self._require_model()(x, self.mu, t * scale, **kwargs)

    def score_fn(self, x: torch.Tensor, t, scale: float = 1.0, **kwargs) -> torch.Tensor:
        return self.get_score_from_noise(self.noise_fn(x, t, scale, **kwargs), t)

    # ------------------------------------------------------------------ samplers
    def forward(self, x0: torch.Tensor, T: int = -1) -> torch.Tensor:
        """Simulate the forward SDE for ``T`` steps (Euler-Maruyama)."""
        T = self.T if T < 0 else T
        x = x0.clone()
        for t in range(1, T + 1):
            x = self.forward_step(x, t)
        return x

    def reverse_sde(self, xt: torch.Tensor, T: int = -1, **kwargs) -> torch.Tensor:
        """Euler-Maruyama on the reverse SDE from ``xt`` (``kwargs`` go to the model)."""
        T = self.sample_T if T < 0 else T
        x = xt.clone()
        for t in reversed(range(1, T + 1)):
            score = self.score_fn(x, t, self.sample_scale, **kwargs)
            x = self.reverse_sde_step(x, score, t)
        return x

    def reverse_ode(self, xt: torch.Tensor, T: int = -1, **kwargs) -> torch.Tensor:
        """Probability-flow ODE (Euler)."""
        T = self.sample_T if T < 0 else T
        x = xt.clone()
        for t in reversed(range(1, T + 1)):
            score = self.score_fn(x, t, self.sample_scale, **kwargs)
            x = self.reverse_ode_step(x, score, t)
        return x

    def reverse_posterior(self, xt: torch.Tensor, T: int = -1, **kwargs) -> torch.Tensor:
        """Posterior sampling (the released test mode)."""
        T = self.sample_T if T < 0 else T
        x = xt.clone()
        for t in reversed(range(1, T + 1)):
            noise = self.noise_fn(x, t, self.sample_scale, **kwargs)
            x = self.reverse_posterior_step(x, noise, t)
        return x

    def optimal_reverse(self, xt: torch.Tensor, x0: torch.Tensor, T: int = -1) -> torch.Tensor:
        T = self.T if T < 0 else T
        x = xt.clone()
        for t in reversed(range(1, T + 1)):
            x = self.reverse_optimum_step(x, x0, t)
        return x

    # ------------------------------------------------------------------ training
    def generate_random_states(self, x0: torch.Tensor, mu: torch.Tensor,
                               timesteps: Optional[torch.Tensor] = None, T_start: int = 1,
                               T_end: int = -1):
        """Set ``mu``; draw ``t ~ U{T_start..T}`` per sample (shape ``(B,1,1,1)``) and
        ``x_t = mu_bar(x0, t) + sigma_bar(t) * eps``."""
        self.set_mu(mu)
        if timesteps is None:
            T_end = self.T + 1 if T_end <= 1 else T_end + 1
            timesteps = torch.randint(T_start, T_end, (x0.shape[0], 1, 1, 1)).long()
        timesteps = timesteps.to(self.thetas.device)
        mean = self.mu_bar(x0, timesteps)
        states = torch.randn_like(mean) * self.sigma_bar(timesteps) + mean
        return timesteps, states.to(torch.float32)

    def noise_state(self, tensor: torch.Tensor) -> torch.Tensor:
        """``x_T`` for sampling: ``tensor + max_sigma * randn``."""
        return tensor + torch.randn_like(tensor) * self.max_sigma

    def __repr__(self) -> str:
        return (f'IRSDE(max_sigma={self.max_sigma * 255:g}/255, T={self.T}, '
                f'sample_T={self.sample_T}, schedule={self.schedule!r}, eps={self.eps})')


class MatchingLoss(nn.Module):
    """Per-sample mean of the L1 (or L2) error, then the batch mean (optionally weighted
    per sample)."""

    def __init__(self, loss_type: str = 'l1', is_weighted: bool = False) -> None:
        super().__init__()
        if loss_type not in ('l1', 'l2'):
            raise ValueError(f"MatchingLoss: loss_type must be 'l1' or 'l2', got {loss_type!r}")
        self.loss_type = loss_type
        self.is_weighted = is_weighted

    def forward(self, predict: torch.Tensor, target: torch.Tensor,
                weights: Optional[torch.Tensor] = None) -> torch.Tensor:
        fn = F.l1_loss if self.loss_type == 'l1' else F.mse_loss
        loss = fn(predict, target, reduction='none').flatten(1).mean(dim=1)
        if self.is_weighted and weights is not None:
            loss = weights.reshape(-1) * loss
        return loss.mean()
