"""irkit's losses (registered in ``irkit.registry.LOSSES``). Importing loads no weights."""
from irkit.losses import pixel_loss  # noqa: F401
from irkit.losses import gan_loss  # noqa: F401
from irkit.losses import perceptual_loss  # noqa: F401
from irkit.losses import contrastive_loss  # noqa: F401
from irkit.losses.contrastive_loss import ContrastiveLoss  # noqa: F401
from irkit.losses.gan_loss import (DiscShiftLoss, FeatureMatchingLoss, GANLoss, GradientPenaltyLoss,  # noqa: F401
                                   R1Penalty, r1_penalty)
from irkit.losses.perceptual_loss import MATPerceptualLoss, PerceptualLoss, ResNetPL, StyleLoss  # noqa: F401
from irkit.losses.pixel_loss import CharbonnierLoss, EdgeLoss, L1Loss, MaskedTVLoss, MSELoss  # noqa: F401
