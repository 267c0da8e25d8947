"""LMDB: BasicSR compatibility both ways, atomic/growing writer, verification,
bad databases, DataLoader workers (damaged files read in processes of their own:
tests/e2e/test_lmdb_damage.py)."""
import os

import cv2
import lmdb
import numpy as np
import pytest
import torch

from irkit.datasets import ImageFolderDataset, PairedImageDataset, SampleError
from irkit.fileio import lmdb as ilmdb
from irkit.fileio.lmdb import LmdbError, make_lmdb, verify_lmdb
from tests.datasets.data_fixtures import (basicsr_lmdb_from_folder, natural_image, read_rgb_float,
                                         write_images)


def _all(db):
    env = lmdb.open(db, readonly=True, lock=False)
    try:
        with env.begin() as txn:
            return {k.decode(): bytes(v) for k, v in txn.cursor()}
    finally:
        env.close()


def test_reads_basicsr_lmdb_pixel_exact(paired_folders, tmp_path):
    gt, lq, names = paired_folders
    basicsr_lmdb_from_folder(gt, str(tmp_path / 'gt.lmdb'))
    basicsr_lmdb_from_folder(lq, str(tmp_path / 'lq.lmdb'))
    ds = PairedImageDataset(str(tmp_path / 'gt.lmdb'), str(tmp_path / 'lq.lmdb'), scale=2)
    assert len(ds) == 3
    seen = set()
    for i in range(len(ds)):
        s = ds[i]
        seen.add(s['key'])
        assert s['gt'].dtype == torch.float32 and s['gt'].shape == (3, 24, 32)
        np.testing.assert_array_equal(s['gt'].numpy(), read_rgb_float(os.path.join(gt, s['key'] + '.png')))
        np.testing.assert_array_equal(s['lq'].numpy(), read_rgb_float(os.path.join(lq, s['key'] + '.png')))
    assert seen == set(names)  # includes the dotted key 'img.v2' and 'sub/0003'


def test_reads_basicsr_lmdb_grey_and_16bit(tmp_path, rng):
    src = tmp_path / 'src'
    src.mkdir()
    grey = natural_image(rng, 10, 12, 1)
    deep = natural_image(rng, 10, 12, 3, np.uint16)
    cv2.imwrite(str(src / 'grey.png'), grey)
    cv2.imwrite(str(src / 'deep.png'), deep)
    basicsr_lmdb_from_folder(str(src), str(tmp_path / 'x.lmdb'))
    ds = ImageFolderDataset(str(tmp_path / 'x.lmdb'))
    by_key = {ds[i]['key']: ds[i]['gt'] for i in range(2)}
    np.testing.assert_array_equal(by_key['grey'].numpy(), np.repeat(grey[None] / np.float32(255), 3, 0))
    ref = (deep[:, :, ::-1].astype(np.float32) / 65535).transpose(2, 0, 1)
    np.testing.assert_array_equal(by_key['deep'].numpy(), ref)


def test_writer_matches_basicsr_format(paired_folders, tmp_path):
    gt, _, _ = paired_folders
    cv2.imwrite(os.path.join(gt, 'grey.png'), np.arange(60, dtype=np.uint8).reshape(6, 10))
    basicsr_lmdb_from_folder(gt, str(tmp_path / 'ref.lmdb'))
    from tools.create_lmdb import main
    assert main([gt, str(tmp_path / 'ours.lmdb'), '--quiet']) == 0
    assert sorted(os.listdir(tmp_path / 'ours.lmdb')) == ['data.mdb', 'lock.mdb', 'meta_info.txt']
    ref, ours = _all(str(tmp_path / 'ref.lmdb')), _all(str(tmp_path / 'ours.lmdb'))
    assert list(ours) == list(ref)  # same keys
    for k in ref:  # same values: PNG from the BGR array at level 1 (same OpenCV build here)
        assert ours[k] == ref[k], k
    meta_ref = (tmp_path / 'ref.lmdb' / 'meta_info.txt').read_text()
    assert (tmp_path / 'ours.lmdb' / 'meta_info.txt').read_text() == meta_ref
    assert 'grey.png (6,10,1) 1\n' in meta_ref and 'img.v2.png (24,32,3) 1\n' in meta_ref


def test_compress_level_written(paired_folders, tmp_path):
    gt, _, _ = paired_folders
    make_lmdb(gt, str(tmp_path / 'c9.lmdb'), compress_level=9, progress=False)
    lines = (tmp_path / 'c9.lmdb' / 'meta_info.txt').read_text().splitlines()
    assert all(line.endswith(') 9') for line in lines)
    assert verify_lmdb(str(tmp_path / 'c9.lmdb'), src=gt, progress=False) == 3


def test_map_size_grows(tmp_path, rng):
    write_images(str(tmp_path / 'big'), [f'{i:02d}' for i in range(6)], rng, (96, 96))
    make_lmdb(str(tmp_path / 'big'), str(tmp_path / 'g.lmdb'), map_size=16384, progress=False)
    assert verify_lmdb(str(tmp_path / 'g.lmdb'), src=str(tmp_path / 'big'), progress=False) == 6


def test_workers_give_same_database(paired_folders, tmp_path):
    gt, _, _ = paired_folders
    make_lmdb(gt, str(tmp_path / 'a.lmdb'), progress=False)
    make_lmdb(gt, str(tmp_path / 'b.lmdb'), workers=2, progress=False)
    assert _all(str(tmp_path / 'a.lmdb')) == _all(str(tmp_path / 'b.lmdb'))


def test_bad_source_writes_nothing(paired_folders, tmp_path):
    gt, _, _ = paired_folders
    open(os.path.join(gt, 'broken.png'), 'wb').write(b'\x89PNG\r\n\x1a\n not really')
    open(os.path.join(gt, 'empty.png'), 'wb').close()
    dst = tmp_path / 'out.lmdb'
    with pytest.raises(ValueError) as e:
        make_lmdb(gt, str(dst), progress=False)
    assert 'broken.png' in str(e.value) and 'empty.png' in str(e.value) and '0 bytes' in str(e.value)
    assert not dst.exists() and [p for p in os.listdir(tmp_path) if '.irkit-tmp.' in p] == []


def test_interrupted_run_leaves_nothing(paired_folders, tmp_path, monkeypatch):
    gt, _, _ = paired_folders
    calls = []
    real = ilmdb._encode_job

    def interrupted(job):
        calls.append(job)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(job)

    monkeypatch.setattr(ilmdb, '_encode_job', interrupted)
    with pytest.raises(KeyboardInterrupt):
        make_lmdb(gt, str(tmp_path / 'out.lmdb'), progress=False)
    assert sorted(os.listdir(tmp_path)) == ['gt', 'lq']


def test_refuses_overwrite(paired_folders, tmp_path, capsys):
    gt, lq, _ = paired_folders
    from tools.create_lmdb import main
    dst = str(tmp_path / 'o.lmdb')
    assert main([gt, dst, '--quiet']) == 0
    assert main([lq, dst, '--quiet']) == 1
    err = capsys.readouterr().err
    assert 'o.lmdb exists' in err and '--overwrite' in err
    assert verify_lmdb(dst, src=gt, progress=False) == 3  # untouched
    assert main([lq, dst, '--quiet', '--overwrite']) == 0
    assert verify_lmdb(dst, src=lq, progress=False) == 3
    assert sorted(os.listdir(tmp_path)) == ['gt', 'lq', 'o.lmdb']


def test_refuses_overwrite_message(paired_folders, tmp_path):
    gt, _, _ = paired_folders
    make_lmdb(gt, str(tmp_path / 'o.lmdb'), progress=False)
    with pytest.raises(FileExistsError, match='o.lmdb exists.*--overwrite'):
        make_lmdb(gt, str(tmp_path / 'o.lmdb'), progress=False)
    with pytest.raises(ValueError, match="must end with '.lmdb'"):
        make_lmdb(gt, str(tmp_path / 'o.db'), progress=False)


def test_paired_mode(paired_folders, tmp_path):
    gt, lq, _ = paired_folders
    from tools.create_lmdb import main
    assert main([gt, str(tmp_path / 'gt.lmdb'), '--lq', lq, str(tmp_path / 'lq.lmdb'), '--quiet']) == 0
    ds = PairedImageDataset(str(tmp_path / 'gt.lmdb'), str(tmp_path / 'lq.lmdb'), scale=2)
    assert len(ds) == 3
    os.remove(os.path.join(lq, 'sub', '0003.png'))
    with pytest.raises(ValueError, match=r'1 in GT .* without LQ: sub/0003'):
        ilmdb.make_paired_lmdb(gt, str(tmp_path / 'g2.lmdb'), lq, str(tmp_path / 'l2.lmdb'),
                               progress=False)
    assert not (tmp_path / 'g2.lmdb').exists() and not (tmp_path / 'l2.lmdb').exists()


def test_paired_overwrite_is_all_or_nothing(paired_folders, tmp_path):
    """A bad LQ image found while replacing two existing LMDBs leaves both untouched."""
    gt, lq, _ = paired_folders
    g, q = str(tmp_path / 'gt.lmdb'), str(tmp_path / 'lq.lmdb')
    ilmdb.make_paired_lmdb(gt, g, lq, q, progress=False)
    before = (_all(g), _all(q))
    with open(os.path.join(lq, 'sub', '0003.png'), 'wb') as f:
        f.write(b'not a png')
    with pytest.raises(ValueError, match=r'(?s)1 of 3 images could not be read.*0003'):
        ilmdb.make_paired_lmdb(gt, g, lq, q, overwrite=True, progress=False)
    assert (_all(g), _all(q)) == before
    assert sorted(os.listdir(tmp_path)) == ['gt', 'gt.lmdb', 'lq', 'lq.lmdb']  # no partial folders


def test_verify_detects_damage(paired_folders, tmp_path):
    gt, _, _ = paired_folders
    from tools.create_lmdb import main
    db = str(tmp_path / 'v.lmdb')
    make_lmdb(gt, db, progress=False)
    assert main(['--verify', db, '--src', gt, '--quiet']) == 0
    env = lmdb.open(db)
    with env.begin(write=True) as txn:
        txn.put(b'0001', cv2.imencode('.png', np.zeros((24, 32, 3), np.uint8))[1].tobytes())
        txn.delete(b'sub/0003')
    env.close()
    with pytest.raises(LmdbError) as e:
        verify_lmdb(db, src=gt, progress=False)
    msg = str(e.value)
    assert "key '0001': pixels differ" in msg and "key 'sub/0003' not found" in msg
    assert main(['--verify', db, '--quiet']) == 1


def test_missing_meta_info(paired_folders, tmp_path):
    gt, lq, _ = paired_folders
    make_lmdb(gt, str(tmp_path / 'gt.lmdb'), progress=False)
    make_lmdb(lq, str(tmp_path / 'lq.lmdb'), progress=False)
    os.remove(tmp_path / 'gt.lmdb' / 'meta_info.txt')
    with pytest.raises(LmdbError, match=r'gt\.lmdb has no meta_info\.txt'):
        PairedImageDataset(str(tmp_path / 'gt.lmdb'), str(tmp_path / 'lq.lmdb'), scale=2)


def test_missing_key(paired_folders, tmp_path):
    gt, _, _ = paired_folders
    db = tmp_path / 'gt.lmdb'
    make_lmdb(gt, str(db), progress=False)
    with open(db / 'meta_info.txt', 'a') as f:
        f.write('ghost.png (24,32,3) 1\n')
    ds = ImageFolderDataset(str(db))
    idx = [d['key'] for d in ds.data_list].index('ghost')
    with pytest.raises(SampleError, match=r"key 'ghost' not found in LMDB .*gt\.lmdb"):
        ds[idx]


def test_lmdb_size_mismatch_detected_from_meta(paired_folders, tmp_path):
    gt, lq, _ = paired_folders
    make_lmdb(gt, str(tmp_path / 'gt.lmdb'), progress=False)
    make_lmdb(lq, str(tmp_path / 'lq.lmdb'), progress=False)
    with pytest.raises(ValueError, match=r"size mismatch .*'0001': GT 24x32, LQ 12x16"):
        PairedImageDataset(str(tmp_path / 'gt.lmdb'), str(tmp_path / 'lq.lmdb'), scale=4)


def test_dataloader_workers_open_their_own_env(paired_folders, tmp_path):
    gt, lq, _ = paired_folders
    make_lmdb(gt, str(tmp_path / 'gt.lmdb'), progress=False)
    make_lmdb(lq, str(tmp_path / 'lq.lmdb'), progress=False)
    ds = PairedImageDataset(str(tmp_path / 'gt.lmdb'), str(tmp_path / 'lq.lmdb'), scale=2)
    first = ds[0]  # the parent opens the environments before the workers fork
    loader = torch.utils.data.DataLoader(ds, batch_size=1, num_workers=2, shuffle=False)
    got = list(loader)
    assert [b['key'][0] for b in got] == [d['key'] for d in ds.data_list]
    assert torch.equal(got[0]['gt'][0], first['gt'])
    # and again with workers that never saw an open environment in the parent
    for p in (str(tmp_path / 'gt.lmdb'), str(tmp_path / 'lq.lmdb')):
        ilmdb.forget(p)
    got2 = list(torch.utils.data.DataLoader(ds, batch_size=3, num_workers=2))
    assert torch.equal(got2[0]['lq'], torch.stack([b['lq'][0] for b in got]))


def test_worker_error_names_key_and_file(paired_folders):
    gt, lq, _ = paired_folders
    bad = os.path.join(lq, 'img.v2.png')
    with open(bad, 'r+b') as f:  # truncate the PNG
        f.truncate(40)
    ds = PairedImageDataset(gt, lq, scale=2)
    loader = torch.utils.data.DataLoader(ds, batch_size=1, num_workers=2)
    with pytest.raises(SampleError) as e:
        list(loader)
    msg = str(e.value)
    assert "key 'img.v2'" in msg and bad in msg and 'cannot decode' in msg


def test_page_locator_reads_what_lmdb_returns(paired_folders, tmp_path):
    """The page-level reader (B-tree pages + one pread per value) returns LMDB's bytes for
    every key: large values on overflow pages, small inline values, a multi-level tree,
    keys with dots and sub-folders; absent keys give None (the reader then asks LMDB)."""
    from irkit.fileio.lmdb_pages import ValueLocator
    gt, _, _ = paired_folders
    db = str(tmp_path / 'gt.lmdb')
    make_lmdb(gt, db, progress=False)
    want = _all(db)
    loc = ValueLocator(os.path.join(db, 'data.mdb'))
    assert {k: loc.read(k.encode()) for k in want} == want
    assert loc.read(b'sub/0002') is None and loc.read(b'') is None and loc.read(b'zzz') is None
    loc.close()

    # many small values: inline in the leaves, several levels of branch pages
    rng = np.random.default_rng(0)
    raw = str(tmp_path / 'raw.lmdb')
    env = lmdb.open(raw, map_size=64 << 20)
    items = {f'{d}/{i:05d}.x{i % 7}'.encode(): rng.bytes(int(rng.integers(1, 3000)))
             for d in ('a', 'b.c') for i in range(0, 3000, 3)}
    with env.begin(write=True) as txn:
        for k, v in items.items():
            txn.put(k, v)
        txn.put(b'big', rng.bytes(50_000))
        items[b'big'] = txn.get(b'big')
    assert env.stat()['depth'] >= 2
    env.close()
    loc = ValueLocator(os.path.join(raw, 'data.mdb'))
    assert all(loc.read(k) == v for k, v in items.items())
    for absent in (b'a/00001.x1', b'a/', b'b.c/99999', b'0', b'\xff'):
        assert loc.read(absent) is None
    loc.close()

    reader = ilmdb.LmdbReader(db)
    assert ilmdb._open_env(reader.db_path).locator is not None
    assert {k: reader.get(k) for k in reader.keys()} == want
    ilmdb.forget(db)
