"""The docs rely only on what the repository holds or public sources, and agree with the code."""
import os
import re
import subprocess

from mmengine.config import Config

from tests.helpers import ROOT


def _tracked_text_files():
    out = subprocess.run(['git', 'ls-files'], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for rel in out.split():
        if rel.endswith(('.md', '.py', '.yml', '.yaml', '.csv', '.json', '.txt', '.sh', '.cfg', '.ini')):
            path = os.path.join(ROOT, rel)
            if os.path.isfile(path):
                yield rel, path


def test_nothing_cites_the_developers_private_notes():
    """Docs, configs, metafiles, code and tests name public sources, never the developers'
    'shared/' folder (not part of the repository)."""
    this = os.path.relpath(__file__, ROOT)
    bad = []
    for rel, path in _tracked_text_files():
        if rel == this:
            continue
        with open(path, encoding='utf-8', errors='replace') as f:
            for n, line in enumerate(f, 1):
                if re.search(r'shared/(facts|design|README)|fact sheet', line):
                    bad.append(f'{rel}:{n}: {line.strip()[:100]}')
    assert not bad, '\n'.join(bad)


def _python_block_after(md, heading):
    text = open(os.path.join(ROOT, md), encoding='utf-8').read()
    section = text[text.index(heading):]
    return re.search(r'```python\n(.*?)```', section, flags=re.S).group(1)


def test_datasets_doc_mat_example_is_the_config():
    ns = {}
    exec(_python_block_after('docs/datasets.md', '### Example: MAT inpainting'), ns)  # plain dicts
    cfg = Config.fromfile(os.path.join(ROOT, 'configs/mat_places.py'))
    assert cfg.train_dataloader.dataset.to_dict() == ns['train_dataset']
    assert cfg.val_dataloader.dataset.to_dict() == ns['val_dataset']


def test_mat_doc_layout_is_the_one_the_configs_and_errors_use():
    from irkit.datasets.inpainting_benchmarks import BENCHMARK_LAYOUTS
    text = open(os.path.join(ROOT, 'docs/methods/mat.md'), encoding='utf-8').read()
    layout = re.search(r'## Data layout\n\n```\n(.*?)```', text, flags=re.S).group(1)
    for config, benchmark in (('configs/mat_places.py', 'places365'), ('configs/mat_celebahq.py', 'celeba-hq')):
        cfg = Config.fromfile(os.path.join(ROOT, config))
        for ds in (cfg.train_dataloader.dataset, cfg.val_dataloader.dataset):
            assert ds.type == 'InpaintingBenchmarkDataset' and ds.benchmark == benchmark
            for root in (ds.data_root, ds.get('mask_root')):
                if root:
                    top, name = os.path.dirname(root), os.path.basename(root)
                    assert f'{top}/' in layout and f'{name}/' in layout, (config, root)
                    assert f'{name}/' in BENCHMARK_LAYOUTS[benchmark], (benchmark, root)


# docs/adding_an_inpainting_method.md (its worked example run: tests/e2e/test_adding_a_method_doc.py)
DOC = os.path.join(ROOT, 'docs', 'adding_an_inpainting_method.md')


def blocks():
    """``{file: code}`` of the page's ``# file: <path>`` blocks."""
    text = open(DOC, encoding='utf-8').read()
    out = {}
    for body in re.findall(r'```(?:python|yaml)\n(.*?)```', text, re.S):
        first, _, rest = body.partition('\n')
        m = re.match(r'# file: (\S+)', first)
        if m:
            out[m.group(1)] = rest
    return out


def test_page_has_the_five_parts():
    b = blocks()
    assert set(b) >= {'irkit/archs/tinyfill.py', 'irkit/archs/__init__.py', 'configs/tinyfill_places.py',
                      'configs/metafiles/tinyfill.yml'}
    text = open(DOC, encoding='utf-8').read()
    assert 'docs/methods/tinyfill.md' in text and 'tests/archs/test_tinyfill.py' in text
