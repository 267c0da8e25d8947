"""A few CPU training iterations of both stages, predictions, metric, EMA rule."""
import copy

import torch
from mmengine.optim import OptimWrapper

from irkit.metrics.daclip import DegradationAccuracy
from irkit.models.daclip_model import DaCLIPModel
from irkit.models.ema import EMAPytorchSchedule
from irkit.archs.clip import clip_preprocess
from irkit.models.sde_restorer import SDERestorer

from tests.archs.tiny_clip import TINY_CLIP, text_ids, write_tiny_bpe

DEGS = ('hazy', 'noisy', 'rainy')


def _stage1(tmp_path):
    torch.manual_seed(0)
    return DaCLIPModel(daclip=dict(type='DaCLIP', clip_cfg=TINY_CLIP),
                       bpe_path=str(write_tiny_bpe(tmp_path / 'bpe.txt.gz')), degradations=DEGS)


def test_stage1_trains_only_the_controller(tmp_path):
    model = _stage1(tmp_path)
    clip_before = copy.deepcopy(model.daclip.clip.state_dict())
    ctrl_before = copy.deepcopy(model.daclip.visual_control.state_dict())
    scale_before = model.daclip.logit_scale.detach().clone()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = OptimWrapper(torch.optim.AdamW(params, lr=1e-3))
    g = torch.Generator().manual_seed(0)
    batch = dict(lq=list(torch.rand(4, 3, 32, 32, generator=g)),
                 caption=['hello', 'hello hello', 'a hello', 'b'],
                 degradation=['hazy', 'noisy', 'rainy', 'hazy'])
    for _ in range(2):
        logs = model.train_step(batch, opt)
    assert {'loss', 'loss_contrastive', 'loss_degra'} <= set(logs)
    assert torch.isfinite(logs['loss'])
    for k, v in model.daclip.clip.state_dict().items():
        assert torch.equal(v, clip_before[k]), k
    changed = [k for k, v in model.daclip.visual_control.state_dict().items()
               if not torch.equal(v, ctrl_before[k])]
    assert any('zero_modules' in k for k in changed)
    assert not torch.equal(model.daclip.logit_scale.detach(), scale_before)
    # pre-tokenised ids are accepted as well
    ids_batch = dict(lq=batch['lq'], caption_ids=text_ids(4, seed=1), degradation_ids=text_ids(4, seed=2))
    losses = model(model.data_preprocessor(ids_batch)['batch'], mode='loss')
    assert torch.isfinite(losses['loss_degra'])


def test_stage1_loss_is_two_clip_losses(tmp_path):
    model = _stage1(tmp_path).eval()
    img = torch.rand(3, 3, 32, 32)
    cap, deg = text_ids(3, seed=3), text_ids(3, seed=4)
    with torch.no_grad():
        losses = model(dict(lq=img, caption_ids=cap, degradation_ids=deg), mode='loss')
        out = model.daclip((img - model.clip_mean) / model.clip_std, torch.cat([cap, deg], -1))
    s = out['logit_scale']

    def clip_loss(a, b):
        logits = s * a @ b.t()
        lab = torch.arange(3)
        return (torch.nn.functional.cross_entropy(logits, lab)
                + torch.nn.functional.cross_entropy(logits.t(), lab)) / 2
    assert torch.allclose(losses['loss_contrastive'], clip_loss(out['image_features'], out['text_features']))
    assert torch.allclose(losses['loss_degra'],
                          clip_loss(out['image_degra_features'], out['text_degra_features']))


def test_stage1_predict_and_accuracy(tmp_path):
    model = _stage1(tmp_path).eval()
    batch = dict(lq=torch.rand(3, 3, 32, 32), degradation_label=torch.tensor([0, 1, 2]),
                 key=['a', 'b', 'c'])
    with torch.no_grad():
        preds = model(batch, mode='predict')
    assert len(preds) == 3 and preds[0]['key'] == 'a'
    assert all(0 <= p['degradation_pred'] < 3 for p in preds)
    metric = DegradationAccuracy(degradations=DEGS)
    metric.process(None, [dict(degradation_pred=0, degradation_label=0),
                          dict(degradation_pred=2, degradation_label=1),
                          dict(degradation_pred=1, degradation_label=1),
                          dict(degradation_pred=2, degradation_label=2)])
    res = metric.compute_metrics(metric.results)
    assert res['degradation_acc'] == 0.75 and res['degradation_acc/noisy'] == 0.5


def _stage2(ema_every=1):
    torch.manual_seed(0)
    return SDERestorer(
        generator=dict(type='ConditionalUNet', in_nc=3, out_nc=3, nf=32, ch_mult=[1, 1, 1, 1],
                       context_dim=32, use_degra_context=True, use_image_context=True),
        sde=dict(max_sigma=50, T=10, schedule='cosine', eps=0.005),
        daclip=dict(type='DaCLIP', clip_cfg=TINY_CLIP), clip_size=32,
        ema_update_every=ema_every, ema_update_after_step=0)


def test_stage2_training_and_sampling():
    model = _stage2()
    daclip_before = copy.deepcopy(model.daclip.state_dict())
    gen_before = copy.deepcopy(model.generator.state_dict())
    opt = OptimWrapper(torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                         lr=2e-4, betas=(0.9, 0.99)))
    g = torch.Generator().manual_seed(1)
    gt = torch.rand(2, 3, 16, 16, generator=g)
    batch = dict(gt=list(gt), lq=list((gt + 0.1 * torch.randn(2, 3, 16, 16, generator=g)).clamp(0, 1)),
                 key=['x', 'y'])
    for _ in range(3):
        logs = model.train_step(batch, opt)
        assert torch.isfinite(logs['loss_matching'])
    assert int(model.ema_step) == 3
    for k, v in model.daclip.state_dict().items():
        assert torch.equal(v, daclip_before[k]), k
    assert any(not torch.equal(v, gen_before[k]) for k, v in model.generator.state_dict().items())
    model.eval()
    torch.manual_seed(0)
    preds = model.val_step(batch)
    assert len(preds) == 2 and preds[0]['pred'].shape == (3, 16, 16) and preds[0]['key'] == 'x'
    assert 0 <= float(preds[0]['pred'].min()) and float(preds[0]['pred'].max()) <= 1


def test_stage2_loss_matches_recipe():
    model = _stage2()
    sde = model.sde
    g = torch.Generator().manual_seed(2)
    gt, lq = torch.rand(2, 3, 16, 16, generator=g), torch.rand(2, 3, 16, 16, generator=g)
    torch.manual_seed(5)
    loss = model.loss(lq, gt)['loss_matching']
    torch.manual_seed(5)
    ic, tc = model.daclip_context(lq)
    t, xt = sde.generate_random_states(gt, lq)
    noise = model.generator(xt, lq, t.view(-1), text_context=tc, image_context=ic)
    pred_mean = xt - (sde.thetas[t] * (lq - xt) + sde.sigmas[t] ** 2 * noise / sde.sigma_bars[t]) * sde.dt
    ref = (pred_mean - sde.reverse_optimum_step(xt, gt, t)).abs().mean()
    assert torch.allclose(loss, ref, atol=1e-6)


def test_ema_rule_matches_ema_pytorch():
    ema_rule = EMAPytorchSchedule(beta=0.995, update_every=2, update_after_step=2)
    net, ema = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    step, initted = torch.zeros((), dtype=torch.long), torch.zeros((), dtype=torch.bool)
    history = []
    for i in range(7):
        with torch.no_grad():
            net.weight.fill_(float(i))
        prev = ema.weight.detach().clone()
        ema_rule.update(ema, net, step, initted)
        history.append((prev, ema.weight.detach().clone()))
    # steps 0 and 2 copy (<= update_after_step), odd steps skip, step 4: copy-init then lerp with
    # decay(5) = 1 - (1 + 2) ** (-2/3); step 6: lerp with decay(7) = 1 - 5 ** (-2/3)
    assert torch.all(history[0][1] == 0) and torch.all(history[2][1] == 2)
    assert torch.equal(history[3][1], history[2][1])
    assert torch.allclose(history[4][1], torch.full((2, 2), 4.))
    d = 1 - 5 ** (-2 / 3)
    assert torch.allclose(history[6][1], d * history[5][1] + (1 - d) * 6, atol=1e-6)


def test_clip_preprocess_resizes_and_normalises():
    x = torch.full((1, 3, 40, 60), 0.5)
    y = clip_preprocess(x, 32, quantize=True)  # DA-CLIP: uint8 round trip
    assert y.shape == (1, 3, 32, 32)
    ref = (torch.floor(torch.tensor(0.5 * 255)) / 255 - torch.tensor([0.48145466, 0.4578275, 0.40821073])) \
        / torch.tensor([0.26862954, 0.26130258, 0.27577711])
    assert torch.allclose(y[0, :, 5, 5], ref, atol=1e-5)
