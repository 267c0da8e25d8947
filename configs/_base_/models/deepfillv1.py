# DeepFill v1 (Yu et al., CVPR 2018) as MMagic trains it (open-mmlab/mmagic@0a560bb
# configs/_base_/models/base_deepfillv1.py, editors/deepfillv1/deepfillv1.py): two-stage generator with
# contextual attention, independent global and local WGAN critics, area-normalised L1 in the hole and on the
# known pixels for both stages, WGAN 1e-4 (global + local), gradient penalty 10 and DiscShift 0.001 for the
# critics, Adam 1e-4. The critic/generator step ratio is set per dataset in the configs.
_pad = dict(padding_mode='reflect')
_critic = dict(type='MultiLayerDiscriminator', in_channels=3, fc_out_channels=1, num_convs=4, norm_cfg=None,
               act_cfg=dict(type='ELU'), out_act_cfg=dict(type='LeakyReLU', negative_slope=0.2))

model = dict(
    type='GANInpaintor',
    generator=dict(
        type='DeepFillEncoderDecoder',
        stage1=dict(
            type='GLEncoderDecoder',
            encoder=dict(type='DeepFillEncoder', **_pad),
            decoder=dict(type='DeepFillDecoder', in_channels=128, **_pad),
            dilation_neck=dict(type='GLDilationNeck', in_channels=128, act_cfg=dict(type='ELU'), **_pad)),
        stage2=dict(
            type='DeepFillRefiner',
            encoder_attention=dict(type='DeepFillEncoder', encoder_type='stage2_attention', **_pad),
            encoder_conv=dict(type='DeepFillEncoder', encoder_type='stage2_conv', **_pad),
            dilation_neck=dict(type='GLDilationNeck', in_channels=128, act_cfg=dict(type='ELU'), **_pad),
            contextual_attention=dict(type='ContextualAttentionNeck', in_channels=128, **_pad),
            decoder=dict(type='DeepFillDecoder', in_channels=256, **_pad))),
    discriminator=dict(
        type='DeepFillv1Discriminators',
        global_disc_cfg=dict(_critic, max_channels=256, fc_in_channels=256 * 16 * 16),
        local_disc_cfg=dict(_critic, max_channels=512, fc_in_channels=512 * 8 * 8)),
    # MMagic loads OpenCV's BGR images unconverted: the released weights take BGR in [-1, 1], holes 0
    io=dict(channel_order='bgr'),
    losses=[
        dict(type='L1Loss', loss_weight=1.0, pred='stage1', target='gt', region='hole', name='loss_stage1_l1_hole'),
        dict(type='L1Loss', loss_weight=1.0, pred='stage1', target='gt', region='known',
             name='loss_stage1_l1_valid'),
        dict(type='L1Loss', loss_weight=1.0, pred='pred', target='gt', region='hole', name='loss_stage2_l1_hole'),
        dict(type='L1Loss', loss_weight=1.0, pred='pred', target='gt', region='known', name='loss_stage2_l1_valid'),
    ],
    # G: -1e-4 * (mean D_global(comp) + mean D_local(comp patch)); critics: WGAN on each
    gan_loss=dict(type='GANLoss', gan_type='wgan', loss_weight=1e-4),
    # MMagic: GP 10 on each critic (the global one weighted by the hole mask, the local one unweighted) and
    # DiscShift 0.001 on each critic's real and fake loss values (0.5 * 0.001 * loss ** 2)
    disc_losses=[dict(type='GradientPenaltyLoss', loss_weight=10.0, mask=True),
                 dict(type='DiscShiftLoss', loss_weight=0.001)],
    disc_input='comp',            # critics see (stage-2 composite, its 128x128 patch around the hole box)
    step_order='d_then_g',
    ema=None,
    data_preprocessor=dict(type='DataPreprocessor'),  # images stay in [0, 1]; the model maps to [-1, 1] BGR
)
model_wrapper_cfg = dict(type='irkit.GANDistributedWrapper')

optim_wrapper = dict(
    constructor='PerModuleOptimWrapperConstructor',
    generator=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-4)),      # default betas, constant lr
    discriminator=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-4)),
)
