"""Damaged LMDB files read in processes of their own, so a crash (SIGBUS) fails the test and not
the session: `create_lmdb.py --verify` and DataLoader workers on a truncated file, and
tests/e2e/lmdb_damage.py over every page (the reader itself: tests/fileio/test_lmdb.py)."""
import os

from irkit.fileio.lmdb import make_lmdb


def _truncated_db(paired_folders, tmp_path):
    gt, _, _ = paired_folders
    db = tmp_path / 'gt.lmdb'
    make_lmdb(gt, str(db), progress=False)
    with open(db / 'data.mdb', 'r+b') as f:
        f.truncate(3 * 4096)  # the meta pages and one more: the values' pages are gone
    return db


def test_truncated_lmdb_is_an_error_not_sigbus(paired_folders, tmp_path):
    """A truncated data.mdb: `create_lmdb.py --verify` and reading through DataLoader workers
    report the database (and the key) instead of dying of SIGBUS (exit 135) / blaming shared
    memory. Both run as processes of their own, so a crash fails the test, not the session."""
    import sys

    from tests.helpers import run_tool
    db = _truncated_db(paired_folders, tmp_path)
    proc = run_tool([sys.executable, 'tools/create_lmdb.py', '--verify', str(db), '--quiet'],
                    check=False, timeout=120)
    assert proc.returncode == 1, (proc.returncode, proc.stderr)
    assert proc.stderr.startswith('error: ') and len(proc.stderr.strip().splitlines()) == 1
    assert f'{db}/data.mdb: truncated' in proc.stderr
    code = ('import sys, torch\nfrom irkit.datasets import ImageFolderDataset, SampleError\n'
            f'ds = ImageFolderDataset({str(db)!r})\n'
            'for workers in (0, 2):\n'
            '    try:\n'
            '        list(torch.utils.data.DataLoader(ds, batch_size=1, num_workers=workers))\n'
            '    except SampleError as e:\n'
            '        print(workers, str(e).splitlines()[-1])\n')
    proc = run_tool([sys.executable, '-c', code], check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert [ln.split()[0] for ln in lines] == ['0', '2']
    for line in lines:
        assert "key '" in line and f'LMDB {db} is damaged' in line and 'truncated' in line


def test_damaged_lmdb_reads_give_bytes_or_lmdb_errors(tmp_path):
    """Truncation at every page boundary and mid-page, and 1-8 random bytes overwritten at
    random places of every page: every read returns bytes or raises LmdbError/LmdbKeyError
    naming the database (py-lmdb, reading the same files, dies of SIGBUS on every
    truncation and on ~5% of the byte damage: docs/benchmarks.md)."""
    import json
    import sys

    from tests.helpers import run_tool
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lmdb_damage.py')
    proc = run_tool([sys.executable, script, str(tmp_path), '--mutations-per-page', '6'],
                    check=False, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    s = json.loads(proc.stdout.strip().splitlines()[-1])
    assert s['failures'] == [] and s['mutations'] == 6 * s['pages'] >= 6 * 30
    assert set(s['truncation_outcomes']) == {'LmdbError'}  # every read of a truncated file
    assert s['mutation_outcomes']['LmdbError'] > 0 and s['mutation_outcomes']['same'] > 0
