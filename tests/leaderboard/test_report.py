"""The leaderboard's "same benchmark, several methods" section (report.comparison_markdown)."""
import os

from irkit.leaderboard.report import Row, comparison_markdown, judge, markdown

MAT_KEY = 'Places365 small masks [places365/val_large, places365/masks_val_512_small]'


def _rows(method, model, values, key=MAT_KEY, dataset='Places365 small masks', protocol='MAT protocol',
          source='README', verified=True):
    return [Row(method=method, model=model, dataset=dataset, metric=k, published=v, protocol=protocol,
                source=source, verified=verified, benchmark=key) for k, v in values.items()]


def _table(lines, heading):
    i = lines.index(f'### {heading}')
    out = []
    for line in lines[i + 1:]:
        if line.startswith('### '):
            break
        if line.startswith('|'):
            out.append([c.strip() for c in line.strip('|').split('|')])
    return out[0], out[2:]


def test_shared_benchmark_table_orders_best_first_and_bolds_the_best_value():
    rows = (_rows('MAT', 'mat_fulldata', {'FID': 0.78, 'P-IDS': 31.72})
            + _rows('Co-Mod-GAN', 'comod', {'FID': 1.1, 'P-IDS': 26.95}, source='README, row CoModGAN',
                    verified=False)
            + _rows('LaMa', 'big_lama', {'FID': 0.99, 'P-IDS': 22.79}))
    judge(rows[1], 33.0, 0.5)  # MAT's P-IDS measured here
    lines = comparison_markdown(rows)
    assert lines[0] == '## Same benchmark, several methods'
    assert 'Protocol: MAT protocol' in lines
    header, body = _table(lines, 'Places365 small masks')
    assert header == ['method', 'model', 'FID ↓', 'P-IDS ↑', 'measured here', 'source']
    assert [r[1] for r in body] == ['mat_fulldata', 'big_lama', 'comod']  # FID, lower first
    assert body[0][2:4] == ['**0.78**', '**31.72**'] and body[1][2:4] == ['0.99', '22.79']
    assert body[0][4] == 'P-IDS 33.00' and body[1][4] == 'not run'
    assert body[2][5] == 'README, row CoModGAN †'  # unverified numbers keep their mark


def test_higher_is_better_first_metric_and_missing_values():
    key = 'GoPro [GoPro/test/input, GoPro/test/target]'
    rows = (_rows('MPRNet', 'mprnet', {'PSNR': 32.66, 'SSIM': 0.959}, key=key, dataset='GoPro')
            + _rows('Restormer', 'restormer', {'PSNR': 32.92}, key=key, dataset='GoPro'))
    header, body = _table(comparison_markdown(rows), 'GoPro')
    assert [r[1] for r in body] == ['restormer', 'mprnet']  # PSNR, higher first
    assert body[0][2:4] == ['**32.92**', '—']
    assert body[1][3] == '0.959'  # a single value in a column is not "best" of anything


def test_only_benchmarks_of_two_methods_same_folders_and_no_averages():
    other = 'Rain100L [PromptIR/test/derain/Rain100L/input, PromptIR/test/derain/Rain100L/target]'
    y = 'Rain100L [Rain13K/test/Rain100L/input, Rain13K/test/Rain100L/target]'
    rows = (_rows('MAT', 'mat_a', {'FID': 1.0}) + _rows('MAT', 'mat_b', {'FID': 2.0})     # one method
            + _rows('PromptIR', 'p', {'PSNR': 36.37}, key=other, dataset='Rain100L', protocol='RGB')
            + _rows('Restormer', 'r', {'PSNR': 38.99}, key=y, dataset='Rain100L', protocol='Y')
            + _rows('MPRNet', 'm', {'PSNR': 36.40}, key=y, dataset='Rain100L', protocol='Y')
            + _rows('MPRNet', 'm', {'PSNR': 32.73}, key='', dataset='average')
            + _rows('Restormer', 'r', {'PSNR': 33.96}, key='', dataset='average'))
    lines = comparison_markdown(rows)
    assert [ln for ln in lines if ln.startswith('### ')] == ['### Rain100L']
    _, body = _table(lines, 'Rain100L')
    assert [r[1] for r in body] == ['r', 'm']  # PromptIR's RGB-scored Rain100L is another benchmark
    assert comparison_markdown(rows[:2]) == []


def test_same_name_other_folders_get_the_key_as_heading_and_differing_protocols_a_column():
    k1, k2 = 'd [a/x]', 'd [b/x]'
    rows = (_rows('A', 'a1', {'PSNR': 30.0}, key=k1, dataset='d', protocol='p1')
            + _rows('B', 'b1', {'PSNR': 31.0}, key=k1, dataset='d', protocol='p2')
            + _rows('A', 'a2', {'PSNR': 29.0}, key=k2, dataset='d', protocol='p1')
            + _rows('C', 'c2', {'PSNR': 28.0}, key=k2, dataset='d', protocol='p1'))
    lines = comparison_markdown(rows)
    assert [ln for ln in lines if ln.startswith('### ')] == ['### d [a/x]', '### d [b/x]']
    header, body = _table(lines, 'd [a/x]')
    assert header[-1] == 'protocol' and [r[-1] for r in body] == ['p2', 'p1']
    header, _ = _table(lines, 'd [b/x]')
    assert header[-1] == 'source' and 'Protocol: p1' in lines


def test_markdown_puts_the_comparison_before_the_method_sections():
    rows = _rows('MAT', 'mat_a', {'FID': 1.0}) + _rows('LaMa', 'lama', {'FID': 2.0})
    md = markdown(rows)
    assert md.index('## Same benchmark, several methods') < md.index('## MAT') < md.index('## LaMa')
    assert '| MAT | mat_a | **1** | not run | README |' in md


def test_repository_leaderboard_compares_the_inpainting_methods(tmp_path):
    """The generated table (nothing present: every row "not run") shows the MAT-protocol and
    LaMa-protocol benchmarks with the methods that published numbers on them."""
    from irkit.leaderboard.runner import Leaderboard
    from tests.helpers import ROOT
    lb = Leaderboard(str(tmp_path / 'data'), str(tmp_path / 'ck'),
                     metafile_dir=os.path.join(ROOT, 'configs', 'metafiles'),
                     methods=['MAT', 'LaMa', 'AOT-GAN', 'Co-Mod-GAN'], cache_dir=str(tmp_path / 'c'), repo_root=ROOT)
    rows = lb.run(progress=False)
    lines = comparison_markdown(rows)
    assert lb.evaluated == []
    segm = next(r for r in rows if r.model == 'lama_fourier_places' and r.dataset == 'Places365 LaMa segm. masks')
    assert segm.reason.startswith("irkit cannot score Places365 LaMa segm. masks: LaMa's segmentation-based masks")
    assert segm.missing == []  # nothing to download can fill it
    _, body = _table(lines, 'Places365 large masks')
    assert [(r[0], r[2]) for r in body] == [('MAT', '**1.96**'), ('MAT', '2.9'), ('Co-Mod-GAN', '2.92'),
                                            ('LaMa', '2.97')]
    _, body = _table(lines, 'Places365 LaMa wide masks')
    assert [(r[0], r[2], r[3]) for r in body] == [('Co-Mod-GAN', '**1.82**', '0.147'), ('LaMa', '2.21', '**0.135**'),
                                                  ('AOT-GAN', '5.94', '0.149')]
    _, body = _table(lines, 'Places365 LaMa segm. masks')
    assert {r[0] for r in body} == {'LaMa', 'Co-Mod-GAN', 'AOT-GAN'}
