"""benchmarks/demo_inpainting.py end to end with one iteration of two methods: mask sets, training,
the benchmark's table, grid and the summary the README's table comes from."""
import json
import os
import sys

from tests.helpers import ROOT, run_tool


def test_demo_inpainting_trains_and_scores(tmp_path):
    out = tmp_path / 'demo'
    run_tool([sys.executable, os.path.join(ROOT, 'benchmarks', 'demo_inpainting.py'), '--iters', '1',
              '--methods', 'deepfillv2', 'pconv', '--out', str(out)], timeout=900)
    for name in ('deepfillv2', 'pconv'):
        assert (out / 'work' / name / 'iter_1.pth').is_file()
    summary = (out / 'summary.md').read_text()
    assert '| deepfillv2 | configs/deepfillv2_places.py |' in summary and '| pconv | configs/pconv_places.py |' in summary
    models = json.loads((out / 'benchmark' / 'results.json').read_text())['models']
    assert set(models) == {'deepfillv2', 'pconv'}
    assert models['pconv']['checkpoint'] == str(out / 'work' / 'pconv' / 'iter_1.pth')
    assert (out / 'benchmark' / 'grid.png').is_file() and (out / 'benchmark' / 'table.md').is_file()
