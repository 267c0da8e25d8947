# DeepFill v2 (Yu et al., ICCV 2019) as MMagic trains it (open-mmlab/mmagic@0a560bb
# configs/_base_/models/base_deepfillv2.py, TwoStageInpaintor with disc_input_with_mask=True): gated-conv
# two-stage generator, SN-PatchGAN on cat(image, mask), area-normalised L1 in the hole and on the known
# pixels for both stages, hinge GAN 0.1, Adam 1e-4, one D step per G step.
_pad = dict(padding_mode='reflect')

model = dict(
    type='GANInpaintor',
    generator=dict(
        type='DeepFillEncoderDecoder',
        stage1=dict(
            type='GLEncoderDecoder',
            encoder=dict(type='DeepFillEncoder', conv_type='gated_conv', channel_factor=0.75, **_pad),
            decoder=dict(type='DeepFillDecoder', conv_type='gated_conv', in_channels=96, channel_factor=0.75,
                         out_act_cfg=dict(type='Tanh'), **_pad),
            dilation_neck=dict(type='GLDilationNeck', in_channels=96, conv_type='gated_conv',
                               act_cfg=dict(type='ELU'), **_pad)),
        stage2=dict(
            type='DeepFillRefiner',
            encoder_attention=dict(type='DeepFillEncoder', encoder_type='stage2_attention', conv_type='gated_conv',
                                   channel_factor=0.75, **_pad),
            encoder_conv=dict(type='DeepFillEncoder', encoder_type='stage2_conv', conv_type='gated_conv',
                              channel_factor=0.75, **_pad),
            dilation_neck=dict(type='GLDilationNeck', in_channels=96, conv_type='gated_conv',
                               act_cfg=dict(type='ELU'), **_pad),
            contextual_attention=dict(type='ContextualAttentionNeck', in_channels=96, conv_type='gated_conv',
                                      **_pad),
            decoder=dict(type='DeepFillDecoder', in_channels=192, conv_type='gated_conv',
                         out_act_cfg=dict(type='Tanh'), **_pad))),
    discriminator=dict(
        type='MultiLayerDiscriminator', in_channels=4, max_channels=256, fc_in_channels=None, num_convs=6,
        norm_cfg=None, act_cfg=dict(type='LeakyReLU', negative_slope=0.2),
        out_act_cfg=dict(type='LeakyReLU', negative_slope=0.2), with_spectral_norm=True),
    # MMagic loads OpenCV's BGR images unconverted: the released weights take BGR in [-1, 1], holes 0
    io=dict(channel_order='bgr'),
    # stage1_loss_type / stage2_loss_type = (loss_l1_hole, loss_l1_valid[, loss_gan]) on the raw outputs,
    # each mean over its region's pixels (MMagic's mask_reduce_loss)
    losses=[
        dict(type='L1Loss', loss_weight=1.0, pred='stage1', target='gt', region='hole', name='loss_stage1_l1_hole'),
        dict(type='L1Loss', loss_weight=1.0, pred='stage1', target='gt', region='known',
             name='loss_stage1_l1_valid'),
        dict(type='L1Loss', loss_weight=1.0, pred='pred', target='gt', region='hole', name='loss_stage2_l1_hole'),
        dict(type='L1Loss', loss_weight=1.0, pred='pred', target='gt', region='known', name='loss_stage2_l1_valid'),
    ],
    gan_loss=dict(type='GANLoss', gan_type='hinge', loss_weight=0.1),
    disc_input='comp',            # D(cat(stage-2 composite, mask)) vs D(cat(gt, mask)), mask 1 = hole
    step_order='d_then_g',
    disc_steps=1,
    ema=None,
    data_preprocessor=dict(type='DataPreprocessor'),  # images stay in [0, 1]; the model maps to [-1, 1] BGR
)
model_wrapper_cfg = dict(type='irkit.GANDistributedWrapper')

optim_wrapper = dict(
    constructor='PerModuleOptimWrapperConstructor',
    generator=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-4)),      # default betas, constant lr
    discriminator=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-4)),
)
