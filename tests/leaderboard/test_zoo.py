"""docs/model_zoo.md is generated from the metafiles (irkit/leaderboard/zoo.py)."""
import os

from irkit.leaderboard.metafile import load_metafiles, parse_metafile
from irkit.leaderboard.zoo import model_zoo_markdown
from tests.helpers import ROOT


def test_docs_model_zoo_is_the_generated_page():
    """Edit the metafiles, then run `python tools/leaderboard.py --write-zoo docs/model_zoo.md`."""
    want = model_zoo_markdown(load_metafiles(os.path.join(ROOT, 'configs', 'metafiles')))
    with open(os.path.join(ROOT, 'docs', 'model_zoo.md'), encoding='utf-8') as f:
        assert f.read() == want, 'docs/model_zoo.md is out of date: regenerate it with tools/leaderboard.py --write-zoo'


def test_table_cells_escape_the_column_separator():
    mf = parse_metafile({
        'Collection': {'Name': 'X'}, 'Datasets': {'d': {'Folders': ['d'], 'Download': 'a | b'}},
        'Models': [{'Name': 'm', 'Task': 't | u', 'Config': 'c.py', 'Converter': 'irkit',
                    'Weights': {'File': 'f', 'URL': 'https://x.org/f', 'SHA256': None},
                    'Results': [{'Dataset': 'd', 'Metrics': {'L1': 1.0}, 'Protocol': 'mean |x - y|',
                                 'Source': 's', 'Verified': True, 'Eval': {'CfgOptions': {}}}]}]})
    md = model_zoo_markdown([mf])
    rows = [ln for ln in md.splitlines() if ln.startswith('| m |') or ln.startswith('| d |')]
    assert len(rows) == 3
    for ln in rows:  # every row keeps its column count: no bare '|' inside a cell
        cells = ln.replace('\\|', '').strip('|').split('|')
        assert len(cells) in (3, 7), ln
    assert 'mean \\|x - y\\|' in md and 't \\| u' in md and 'a \\| b' in md
