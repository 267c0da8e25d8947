"""The eight inpainting methods trained briefly on the demo images and scored by the one benchmark.

    python benchmarks/demo_inpainting.py [--iters 300] [--batch 2] [--out work_dirs/demo_inpainting]
        [--methods mat lama ...] [--check]

What it runs (every step is an ordinary irkit command; the script prints each one):

1. Mask sets (``tools/make_mask_sets.py``): the evaluation sets ``mat_large`` and
   ``ratio_20_30`` at 256 px, 2 masks each (one per evaluation image, seed 0), and the
   training masks of AOT-GAN (its recipe reads a folder of mask files, NVIDIA's irregular
   masks, which cannot be downloaded here): ``ratio_10_20`` ... ``ratio_50_60`` at 256 px,
   40 masks each, seed 1 (five of the six hole-ratio buckets of NVIDIA's set; ``ratio_00_10``
   cannot be drawn, see the note at ``AOT_TRAIN_SETS``), resized to the crop by the recipe's own
   mask ``Resize``.
2. Training (``tools/train.py``), each method with its own config and its own generated
   training masks, on the 8 images of ``data/demo/train``, for ``--iters`` iterations at batch
   ``--batch`` on 128x128 crops, without validation. The ``--cfg-options`` of each method are in
   ``METHODS`` below; beyond the data, the loop and the checkpoint they change:

   * every method: 128 px instead of the recipe's crop (256 or 512), the mask generator's
     pixel sizes scaled with it (MMagic's bbox and stroke sizes halved), ``num_workers=0``;
   * loss terms whose networks need pretrained weights (none can be downloaded here) are left
     out: LaMa's ResNet-PL (ADE20k ResNet-50 encoder), AOT-GAN's and PConv's VGG perceptual and
     style losses (torchvision ImageNet VGG19 / VGG16), MAT's VGG19 perceptual loss. With random
     weights (``pretrained=False``) they would not be the published losses either, LaMa's random
     ResNet-PL term is ~400x its L1 term (it would drive the training alone), and on a CPU they
     cost as much as the generators. The config's ``model.losses`` without them is written to
     ``OUT/configs/<method>.py`` (``_base_`` = the method's config) and trained from there;
   * MAT and Co-Mod-GAN (fixed-resolution StyleGAN-style networks): the tiny 128 px settings of
     docs/methods/mat.md (z = w = 32, stage-1 width 12, channels 16 at 128 px and 32 below; the
     Co-Mod-GAN generator and discriminator with the same widths, ``fmap_base=1024,
     fmap_max=32``, latents 32), their EMA generators with StyleGAN2-ADA's ramp-up
     (``rampup=0.05``: the half-life is at most 5 % of the images seen, so the EMA follows a
     run of a few hundred iterations), Co-Mod-GAN's centre crop replaced by a random crop
     (a centre crop would give 8 fixed training images);
   * LaMa: the generator of lama-fourier (``n_blocks=9``, the paper's Places365-Standard model)
     instead of big-lama's 18 blocks, ``ngf`` kept;
   * GLCIC and DeepFill v1: the discriminators' fully connected inputs for 128 px images and a
     64 px local patch (``fc_in_channels``, ``disc_io.local_size=64``); GLCIC's schedule
     (generator alone for 18 % of the run, then the discriminator alone to 20 %, then both:
     MMagic's 90k / 100k of 500k) scaled to ``--iters``;
   * GLCIC and PConv: BatchNorm instead of SyncBN (one CPU process); PConv trains its stage 1
     (encoder BatchNorm trainable, lr 2e-4, the documented stage-1 overrides), not stage 2
     (which starts from a stage-1 checkpoint).

   Everything else (losses and their weights, GAN losses, optimisers, learning rates, step order,
   DeepFill v1's five critic steps per generator step) is the config's.
3. Scoring (``tools/inpainting_benchmark.py``): the 8 checkpoints on the 2 held-out images of
   ``data/demo/test`` (resized so the short side is 256, centre crop) with the two fixed mask
   sets, PSNR / SSIM / MAE in the hole (LPIPS, FID and P-IDS need weights that cannot be
   downloaded here). MAT and Co-Mod-GAN run at 128 px inside (``GANInpaintor`` resizes
   fixed-resolution networks and pastes the result back).

Writes ``OUT/summary.md`` (iterations, wall time per method, the table) besides the benchmark's
own files in ``OUT/benchmark`` (``table.md``, ``results.csv``/``json``, ``plot.png``,
``grid.png``). ``--check`` only loads and validates the eight configs with the options (no
training). Run it quietly: ``nice -n 10 python benchmarks/demo_inpainting.py``.
The numbers show the pipeline working end to end; they are not comparable to the papers'
(docs/leaderboard.md).
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Dict, List

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

CROP = 128                      # training crop (all methods)
EVAL_SIZE = 256                 # evaluation mask size (images resized to it, centre-cropped)
EVAL_SETS = ('mat_large', 'ratio_20_30')
TRAIN_IMAGES = 'data/demo/train'
TEST_IMAGES = 'data/demo/test'
# ratio_00_10 is left out: the MAT generator scaled by coef = lo + hi = 0.1 draws no hole at all
# (int(n * 0.1) == 0 boxes and strokes for the 'large' variant), so that set cannot be written
AOT_TRAIN_SETS = ('ratio_10_20', 'ratio_20_30', 'ratio_30_40', 'ratio_40_50', 'ratio_50_60')
AOT_TRAIN_COUNT = 40            # masks per hole-ratio bucket
AOT_TRAIN_SIZE = 256
TINY_TABLE = '[16,32,32,32,32,32]'   # MAT channel table from 128 px down to 4 px (docs/methods/mat.md)
# MMagic's 256 px mask settings halved for 128 px images
_BBOX_128 = ['max_bbox_shape=64', 'max_bbox_delta=20', 'min_margin=10', f'img_shape=({CROP},{CROP})']
_IRREGULAR_128 = ['length_range=(10,64)', 'brush_width=(5,22)', f'img_shape=({CROP},{CROP})']


# loss networks with pretrained weights (MAT's perceptual loss is model.perceptual_loss)
NO_WEIGHT_LOSSES = ('ResNetPL', 'PerceptualLoss', 'StyleLoss')


def _at(prefix: str, items: List[str]) -> List[str]:
    return [f'{prefix}.{kv}' for kv in items]


def methods(iters: int, masks_dir: str) -> Dict[str, dict]:
    """Per method: ``config``; ``model`` options (training and scoring); ``train`` options."""
    pipe = 'train_dataloader.dataset.pipeline'
    t_c, t_d = round(0.18 * iters), round(0.2 * iters)   # GLCIC: MMagic's 90k / 100k of 500k
    mmagic_128 = [f'{pipe}.1.crop_size={CROP}', f'{pipe}.2.size=({CROP},{CROP})']
    return {
        'mat': dict(config='configs/mat_places.py', model=[
            'model.generator.z_dim=32', 'model.generator.w_dim=32', f'model.generator.img_resolution={CROP}',
            'model.generator.stage1_dim=12', f'model.generator.channel_table={TINY_TABLE}',
            f'model.discriminator.img_resolution={CROP}', f'model.discriminator.channel_table={TINY_TABLE}',
            'model.ema_rampup=0.05'],
            train=[f'{pipe}.1.crop_size={CROP}', 'model.perceptual_loss=None']),
        'comodgan': dict(config='configs/comodgan_places.py', model=[
            f'model.generator.resolution={CROP}', 'model.generator.fmap_base=1024', 'model.generator.fmap_max=32',
            'model.generator.latent_size=32', 'model.generator.dlatent_size=32', 'model.generator.mapping_fmaps=32',
            f'model.discriminator.resolution={CROP}', 'model.discriminator.fmap_base=1024',
            'model.discriminator.fmap_max=32', 'model.ema.rampup=0.05'],
            train=[f'{pipe}.1.type=RandomCrop', f'{pipe}.1.crop_size={CROP}', f'{pipe}.1.pad_mode=reflect']),
        'lama': dict(config='configs/lama_places.py', model=[
            'model.generator.n_blocks=9'],
            train=[f'{pipe}.1.crop_size={CROP}']),
        'aotgan': dict(config='configs/aotgan_places.py', model=[],
            train=[f'{pipe}.1.size={CROP}', f'{pipe}.4.mask_root={masks_dir}', f'{pipe}.5.size=({CROP},{CROP})']),
        'deepfillv1': dict(config='configs/deepfillv1_places.py', model=[
            'model.discriminator.global_disc_cfg.fc_in_channels=16384',   # 256 x 8 x 8
            'model.discriminator.local_disc_cfg.fc_in_channels=8192',     # 512 x 4 x 4
            'model.disc_io.local_size=64'],
            train=mmagic_128 + _at(f'{pipe}.3', _BBOX_128)),
        'deepfillv2': dict(config='configs/deepfillv2_places.py', model=[],
                           train=mmagic_128 + _at(f'{pipe}.3', _IRREGULAR_128)),
        'glcic': dict(config='configs/glcic_places.py', model=[
            'model.generator.encoder.norm_cfg.type=BN', 'model.generator.decoder.norm_cfg.type=BN',
            'model.generator.dilation_neck.norm_cfg.type=BN',
            'model.discriminator.global_disc_cfg.norm_cfg.type=BN',
            'model.discriminator.local_disc_cfg.norm_cfg.type=BN',
            'model.discriminator.global_disc_cfg.fc_in_channels=2048',    # 512 x 2 x 2
            'model.discriminator.local_disc_cfg.fc_in_channels=2048',     # 512 x 2 x 2
            'model.disc_io.local_size=64'],
            train=mmagic_128 + _at(f'{pipe}.3', _BBOX_128) + [
                f'model.disc_start_iter={t_c + 1}', f'model.generator_pause=({t_c + 1},{t_d + 1})',
                f'model.adv_start_iter={t_d + 1}']),
        'pconv': dict(config='configs/pconv_places.py', model=[
            'model.generator.encoder.norm_cfg.type=BN', 'model.generator.decoder.norm_cfg.type=BN',
            'model.generator.encoder.norm_cfg.requires_grad=True', 'model.generator.encoder.norm_eval=False'],
            train=['optim_wrapper.optimizer.lr=2e-4'] + _at(f'{pipe}.1', _IRREGULAR_128)
            + [f'{pipe}.2.crop_size={CROP}', f'{pipe}.3.size=({CROP},{CROP})']),
    }


def common_train_options(iters: int, batch: int) -> List[str]:
    return [f'train_dataloader.dataset.data_root={TRAIN_IMAGES}', f'train_dataloader.batch_size={batch}',
            'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
            'val_dataloader=None', 'val_cfg=None', 'val_evaluator=None',
            f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={iters}',
            f'default_hooks.checkpoint.interval={iters}', 'default_hooks.checkpoint.save_best=None',
            'default_hooks.checkpoint.max_keep_ckpts=1', f'default_hooks.logger.interval={max(1, iters // 10)}']


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--iters', type=int, default=300, help='training iterations per method')
    p.add_argument('--batch', type=int, default=2, help='training batch size')
    p.add_argument('--out', default='work_dirs/demo_inpainting')
    p.add_argument('--methods', nargs='+', help='a subset of the methods (default: all eight)')
    p.add_argument('--check', action='store_true', help='only load and validate the configs with the options')
    return p.parse_args(argv)


def training_config(config: str, out_dir: str) -> str:
    """``config``, or a config written to ``out_dir`` that inherits it with ``model.losses`` less
    the terms in ``NO_WEIGHT_LOSSES``."""
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(ROOT, config))
    losses = [loss.to_dict() for loss in cfg.model.get('losses') or []]
    kept = [loss for loss in losses if loss['type'] not in NO_WEIGHT_LOSSES]
    if len(kept) == len(losses):
        return config
    dropped = sorted({loss['type'] for loss in losses} - {loss['type'] for loss in kept})
    os.makedirs(out_dir, exist_ok=True)
    path = osp.join(out_dir, osp.basename(config))
    base = osp.relpath(osp.join(ROOT, config), out_dir)
    with open(path, 'w') as f:
        f.write(f"# {config} without its {', '.join(dropped)} terms (networks with pretrained weights);\n"
                f'# written by benchmarks/demo_inpainting.py\n_base_ = [{base!r}]\n'
                'model = dict(losses=[\n' + ''.join(f'    {loss!r},\n' for loss in kept) + '])\n')
    return path


def _options(spec: dict, iters: int, batch: int) -> List[str]:
    return common_train_options(iters, batch) + spec['model'] + spec['train']


def check(specs: Dict[str, dict], iters: int, batch: int, config_dir: str) -> Dict[str, object]:
    """Load and validate every training config with its options, as tools/train.py does, and
    the scoring config with the model options, as the benchmark does (no training)."""
    import argparse

    from irkit.utils.config import DictAction, load_config

    def parsed(items):  # as tools/train.py reads its --cfg-options
        if not items:
            return {}
        p = argparse.ArgumentParser()
        p.add_argument('--cfg-options', nargs='+', action=DictAction)
        return p.parse_args(['--cfg-options', *items]).cfg_options
    cfgs = {}
    for name, spec in specs.items():
        path = training_config(spec['config'], config_dir)
        cfgs[name] = load_config(path if osp.isabs(path) else osp.join(ROOT, path),
                                 parsed(_options(spec, iters, batch)))
        load_config(osp.join(ROOT, spec['config']), parsed(spec['model']))
        print(f"{name}: {path} with {len(_options(spec, iters, batch))} options: ok")
    return cfgs


def _run(cmd: List[str], log: str = None) -> float:
    print('$ ' + ' '.join(cmd), flush=True)
    t0 = time.time()
    if log:
        with open(log, 'w') as f:
            rc = subprocess.run(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT).returncode
    else:
        rc = subprocess.run(cmd, cwd=ROOT).returncode
    if rc:
        raise SystemExit(f'{cmd[1]} failed (exit {rc})' + (f'; its output is in {log}' if log else ''))
    return time.time() - t0


def main(argv=None):
    args = parse_args(argv)
    out = osp.abspath(args.out)
    masks_train = osp.join(out, 'masks_train')
    specs = methods(args.iters, masks_train)
    if args.methods:
        unknown = sorted(set(args.methods) - set(specs))
        if unknown:
            raise SystemExit(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(specs)}")
        specs = {k: v for k, v in specs.items() if k in args.methods}
    if args.check:
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            check(specs, args.iters, args.batch, tmp)
        return
    py = sys.executable
    os.makedirs(out, exist_ok=True)
    masks_eval = osp.join(out, 'masks')
    count = len([f for f in os.listdir(osp.join(ROOT, TEST_IMAGES)) if f.endswith('.png')])
    _run([py, 'tools/make_mask_sets.py', masks_eval, '--sets', *EVAL_SETS, '--count', str(count),
          '--size', str(EVAL_SIZE), '--seed', '0', '--overwrite'])
    if 'aotgan' in specs:
        _run([py, 'tools/make_mask_sets.py', masks_train, '--sets', *AOT_TRAIN_SETS, '--count',
              str(AOT_TRAIN_COUNT), '--size', str(AOT_TRAIN_SIZE), '--seed', '1', '--overwrite'])
    timing = {}
    for name, spec in specs.items():
        work = osp.join(out, 'work', name)
        ckpt = osp.join(work, f'iter_{args.iters}.pth')
        if osp.isfile(ckpt):
            print(f'{name}: {ckpt} exists, not retrained (delete it to retrain)')
            continue
        os.makedirs(work, exist_ok=True)
        cmd = [py, 'tools/train.py', training_config(spec['config'], osp.join(out, 'configs')), '--work-dir', work,
               '--cfg-options',
               *_options(spec, args.iters, args.batch)]
        timing[name] = _run(cmd, log=osp.join(out, f'train_{name}.log'))
        print(f'{name}: {args.iters} iterations in {timing[name]:.0f} s', flush=True)
    bench = osp.join(out, 'benchmark')
    cmd = [py, 'tools/inpainting_benchmark.py', '--images', TEST_IMAGES, '--mask-sets',
           *[osp.join(masks_eval, s) for s in EVAL_SETS], '--out', bench, '--metrics', 'PSNR', 'SSIM', 'L1_hole',
           '--grid', str(count)]
    for name, spec in specs.items():
        cmd += ['--model', f"{name}={spec['config']}:{osp.join(out, 'work', name, f'iter_{args.iters}.pth')}"]
    model_opts = [f'{name}:{kv}' for name, spec in specs.items() for kv in spec['model']]
    if model_opts:
        cmd += ['--cfg-options', *model_opts]
    t_bench = _run(cmd)
    with open(osp.join(out, 'summary.md'), 'w') as f:
        f.write(f'Trained {args.iters} iterations, batch {args.batch}, {CROP} px crops of {TRAIN_IMAGES}; '
                f'scored on {TEST_IMAGES} at {EVAL_SIZE} px ({", ".join(EVAL_SETS)}).\n\n')
        f.write('| method | config | training wall time (s) |\n|---|---|---|\n')
        for name, spec in specs.items():
            t = f'{timing[name]:.0f}' if name in timing else '(existing checkpoint)'
            f.write(f"| {name} | {spec['config']} | {t} |\n")
        f.write(f'\nBenchmark wall time: {t_bench:.0f} s\n\n')
        f.write(open(osp.join(bench, 'table.md')).read())
    print(open(osp.join(out, 'summary.md')).read())


if __name__ == '__main__':
    from irkit.utils.cli import run_cli
    run_cli(main)
