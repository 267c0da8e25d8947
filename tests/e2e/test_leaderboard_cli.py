"""tools/leaderboard.py run as a command (the leaderboard itself: tests/leaderboard/test_pipeline.py)."""
import csv
import json
import os
import sys

from tests.helpers import ROOT, run_tool


def test_cli_with_nothing_present_lists_what_to_download(tmp_path):
    out = tmp_path / 'lb.md'
    proc = run_tool([sys.executable, 'tools/leaderboard.py', '--data-root', str(tmp_path / 'data'),
                     '--checkpoints', str(tmp_path / 'ck'), '--methods', 'MPRNet', 'PromptIR',
                     '--out', str(out), '--cache-dir', str(tmp_path / 'cache'), '--no-progress'])
    assert '0 measured' in proc.stdout
    md = out.read_text()
    rows = list(csv.DictReader(open(tmp_path / 'lb.csv')))
    assert rows and all(r['verdict'] == 'not run' for r in rows)
    assert any(r['dataset'] == 'DND' and 'online' in r['reason'] for r in rows)
    assert str(tmp_path / 'ck' / 'mprnet' / 'model_deblurring.pth') in md
    assert str(tmp_path / 'data' / 'GoPro' / 'test' / 'input') in md
    assert str(tmp_path / 'ck' / 'promptir' / 'model.ckpt') in md
    assert not (tmp_path / 'lb.png').exists()  # nothing measured: no empty plot
    assert 'no plot: nothing was measured' in proc.stdout
    assert json.load(open(tmp_path / 'lb.json'))['rows']


def test_cli_writes_to_the_work_dir_unless_told_otherwise(tmp_path):
    tracked = {p: open(os.path.join(ROOT, 'docs', p), 'rb').read()
               for p in ('leaderboard.md', 'leaderboard.csv', 'leaderboard.json')}
    cache = tmp_path / 'cache'
    common = [sys.executable, 'tools/leaderboard.py', '--data-root', str(tmp_path / 'data'), '--checkpoints',
              str(tmp_path / 'ck'), '--methods', 'PromptIR', '--cache-dir', str(cache), '--no-progress']
    run_tool(common)
    assert (cache / 'leaderboard.md').is_file() and (cache / 'leaderboard.csv').is_file()
    for p, data in tracked.items():  # the repository's tables are untouched
        assert open(os.path.join(ROOT, 'docs', p), 'rb').read() == data, p
    out_dir = tmp_path / 'site'
    run_tool(common + ['--out', f'{out_dir}/'])  # a folder: leaderboard.md inside it
    md = (out_dir / 'leaderboard.md').read_text()
    assert f'--out {out_dir}/' in md and (out_dir / 'leaderboard.json').is_file()
