"""tools/plot_logs.py read in-process (its runs on a real training's logs: tests/e2e/test_logging.py)."""
import json
import os
import sys

from tests.helpers import ROOT


def test_plot_logs_merges_resumed_runs(tmp_path):
    """A resumed run repeats iterations after its checkpoint: the later run's values win."""
    sys.path.insert(0, os.path.join(ROOT, 'tools'))
    try:
        import plot_logs
    finally:
        sys.path.pop(0)
    for stamp, lines in (('20260101_000000', [{'loss': 1.0, 'iter': 1, 'step': 1},
                                             {'loss': 0.9, 'iter': 2, 'step': 2},
                                             {'PSNR': 20.0, 'step': 2},
                                             {'loss': 0.8, 'iter': 3, 'step': 3}]),
                         ('20260101_010000', [{'loss': 0.85, 'iter': 3, 'step': 3},
                                             {'loss': 0.7, 'iter': 4, 'step': 4},
                                             {'PSNR': 21.5, 'step': 4}])):
        d = tmp_path / stamp / 'vis_data'
        d.mkdir(parents=True)
        (d / 'scalars.json').write_text(''.join(json.dumps(r) + '\n' for r in lines))
    s = plot_logs.read_scalars(str(tmp_path))
    assert s['train']['loss'] == {1: 1.0, 2: 0.9, 3: 0.85, 4: 0.7}
    assert s['val']['PSNR'] == {2: 20.0, 4: 21.5}
    assert plot_logs.default_keys(s) == ['loss', 'PSNR']
