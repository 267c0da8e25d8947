# GLCIC (Iizuka et al., SIGGRAPH 2017) as MMagic trains it (open-mmlab/mmagic@0a560bb
# configs/_base_/models/base_gl.py + editors/global_local/gl_inpaintor.py): MMagic's GL networks (SyncBN),
# L1 in the hole + vanilla GAN 0.001 of the global+local discriminators, Adam 4e-4, and GLCIC's
# three phases (generator alone, discriminators alone, both), set per dataset in the configs.
_norm = dict(type='SyncBN')  # as MMagic's 8-GPU runs; same state_dict keys as BN (use BN for CPU/gloo DDP)

model = dict(
    type='GANInpaintor',
    generator=dict(
        type='GLEncoderDecoder',
        encoder=dict(type='GLEncoder', norm_cfg=_norm),
        decoder=dict(type='GLDecoder', norm_cfg=_norm),
        dilation_neck=dict(type='GLDilationNeck', norm_cfg=_norm)),
    discriminator=dict(
        type='GLDiscs',
        global_disc_cfg=dict(in_channels=3, max_channels=512, fc_in_channels=512 * 4 * 4, fc_out_channels=1024,
                             num_convs=6, norm_cfg=_norm),
        local_disc_cfg=dict(in_channels=3, max_channels=512, fc_in_channels=512 * 4 * 4, fc_out_channels=1024,
                            num_convs=5, norm_cfg=_norm)),
    # MMagic loads OpenCV's BGR images unconverted: the released weights take BGR in [-1, 1], holes 0
    io=dict(channel_order='bgr'),
    # loss_l1_hole: mean |pred - gt| over the hole pixels (MMagic's mask_reduce_loss), on the raw output
    losses=[dict(type='L1Loss', loss_weight=1.0, pred='pred', target='gt', region='hole', name='loss_l1_hole')],
    gan_loss=dict(type='GANLoss', gan_type='vanilla', loss_weight=0.001),
    disc_input='comp',            # D sees (composite, its 128x128 patch around the hole box) vs (gt, gt patch)
    step_order='d_then_g',        # MMagic: D on the detached composite, then G against the updated D
    disc_steps=1,
    ema=None,
    data_preprocessor=dict(type='DataPreprocessor'),  # images stay in [0, 1]; the model maps to [-1, 1] BGR
)
model_wrapper_cfg = dict(type='irkit.GANDistributedWrapper')

optim_wrapper = dict(
    constructor='PerModuleOptimWrapperConstructor',
    generator=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=4e-4)),      # default betas, constant lr
    discriminator=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=4e-4)),
)
