# Partial Convolutions (Liu et al., ECCV 2018): MMagic's PConv U-Net and loss recipe
# (open-mmlab/mmagic@0a560bb configs/_base_/models/base_pconv.py + configs/partial_conv/*), stage 2:
# encoder BatchNorm frozen (affine requires_grad=False, norm_eval=True), Adam lr 5e-5, no discriminator.
# Stage 1 (lr 2e-4, encoder BN trainable, 800k iterations) is the same file with
#   --cfg-options model.generator.encoder.norm_cfg.requires_grad=True model.generator.encoder.norm_eval=False \
#                 optim_wrapper.optimizer.lr=2e-4 train_cfg.max_iters=800002
# and stage 2 starts from it with --cfg-options load_from=<stage-1 iter_800002.pth> (docs/methods/pconv.md).
_vgg = dict(layer_weights={'pool1': 1.0, 'pool2': 1.0, 'pool3': 1.0},  # torchvision vgg16.features 4, 9, 16
            vgg_type='vgg16', use_input_norm=True, range_norm=True, criterion='l1')  # $IRKIT_WEIGHTS/vgg16-397923af.pth

model = dict(
    type='GANInpaintor',
    generator=dict(
        type='PConvEncoderDecoder',
        encoder=dict(type='PConvEncoder', norm_cfg=dict(type='SyncBN', requires_grad=False), norm_eval=True),
        decoder=dict(type='PConvDecoder', norm_cfg=dict(type='SyncBN'))),
    # MMagic's PConv configs feed OpenCV's BGR images unconverted: the released weights expect BGR in [-1, 1]
    io=dict(channel_order='bgr'),
    # MMagic's OneStageInpaintor.generator_loss with loss_out_percep=True; all on the net's [-1, 1] BGR images,
    # L1 terms area-normalised (mask_reduce_loss: sum over the region / its size)
    losses=[
        dict(type='L1Loss', loss_weight=6.0, pred='pred', target='gt', region='hole', name='loss_l1_hole'),
        dict(type='L1Loss', loss_weight=1.0, pred='pred', target='gt', region='known', name='loss_l1_valid'),
        dict(type='PerceptualLoss', loss_weight=0.05, pred='comp', name='loss_composed_percep', **_vgg),
        dict(type='StyleLoss', loss_weight=120.0, pred='comp', name='loss_composed_style', **_vgg),
        dict(type='PerceptualLoss', loss_weight=0.05, pred='pred', name='loss_out_percep', **_vgg),
        dict(type='StyleLoss', loss_weight=120.0, pred='pred', name='loss_out_style', **_vgg),
        dict(type='MaskedTVLoss', loss_weight=0.1, pred='comp', region='hole', name='loss_tv'),
    ],
    ema=None,
    data_preprocessor=dict(type='DataPreprocessor'),  # images stay in [0, 1]; the model maps to [-1, 1] BGR
)
model_wrapper_cfg = dict(type='irkit.GANDistributedWrapper')

optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=5e-5))  # constant lr (MMagic: 'Fixed')
