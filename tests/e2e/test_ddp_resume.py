"""Two-process training stopped and resumed continues exactly like an uninterrupted run:
every rank's RNG stream (random crops, flips and noise drawn in each process) is saved
and restored, not just rank 0's."""
import torch

from irkit.fileio.checkpoint import safe_load
from tests.helpers import free_port, run_tool
from tests.e2e._cfg import write_cfg


def _dist_cmd(cfg, wd, *extra):
    return ['bash', 'tools/dist_train.sh', cfg, '2', '--work-dir', str(wd), *extra]


def _dist_train(cfg, wd, *extra):
    run_tool(_dist_cmd(cfg, wd, *extra), env={'PORT': free_port()}, timeout=600)


def test_two_process_resume_is_exact(tmp_path):
    # MixUp draws from each rank's global torch RNG outside the data pipeline (the loader's
    # own draws are replayed when it is fast-forwarded), so only a restored per-rank RNG
    # state continues it; without it rank 1 diverges after the resume
    mix = "dict(type='MixUpHook', alpha=0.6, per_sample=True)"
    cfg = write_cfg(tmp_path / 'ddp.py', f'[{mix}]', iters=4, workers=0)
    crash = write_cfg(tmp_path / 'crash.py', f"[{mix}, dict(type='ExitAtIterHook', at=2)]", iters=4,
                      workers=0)
    ref, run = tmp_path / 'ref', tmp_path / 'run'
    _dist_train(cfg, ref)
    # both ranks die right after iteration 2 and its checkpoint
    proc = run_tool(_dist_cmd(crash, run), env={'PORT': free_port()}, timeout=600, check=False)
    assert proc.returncode != 0 and (run / 'iter_2.pth').exists()
    assert not (run / 'iter_3.pth').exists()
    ckpt = safe_load(run / 'iter_2.pth')
    states = ckpt['rng_states']
    assert len(states) == 2
    assert ckpt['rng_state']['numpy'] == states[0]['numpy']
    _dist_train(cfg, run, '--resume', 'auto')
    a = safe_load(ref / 'iter_4.pth')['state_dict']
    b = safe_load(run / 'iter_4.pth')['state_dict']
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
