"""Helpers for the data-layer tests: tiny images written into tmp_path, and an
LMDB written the way BasicSR's ``make_lmdb_from_imgs`` writes it (independently
of irkit's writer, so compatibility tests are not circular)."""
import os

import cv2
import lmdb
import numpy as np


def natural_image(rng, h, w, c=3, dtype=np.uint8):
    """Smooth random content (compresses like a photo, unlike white noise)."""
    small = rng.random((max(h // 8, 2), max(w // 8, 2), c)).astype(np.float32)
    img = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    img = img.reshape(h, w, c) + 0.05 * rng.standard_normal((h, w, c)).astype(np.float32)
    hi = np.iinfo(dtype).max
    img = np.clip(img * hi, 0, hi).astype(dtype)
    return img[:, :, 0] if c == 1 else img


def write_images(root, names, rng, shape=(24, 32), c=3, ext='.png', scale_lq=None):
    os.makedirs(root, exist_ok=True)
    out = {}
    for n in names:
        p = os.path.join(root, n + ext)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        img = natural_image(rng, shape[0], shape[1], c)
        assert cv2.imwrite(p, img)
        out[n] = p
    return out


def basicsr_make_lmdb(data_path, lmdb_path, img_path_list, keys, compress_level=1):
    """What BasicSR 1.4.2 ``make_lmdb_from_imgs`` does (written from its documented
    behaviour): map_size = first PNG size x n x 10, a write txn committed at
    idx % 5000 == 0 and at the end, meta line ``{key}.png ({h},{w},{c}) {level}``."""
    assert lmdb_path.endswith('.lmdb') and not os.path.exists(lmdb_path)

    def read(path):
        img = cv2.imread(os.path.join(data_path, path), cv2.IMREAD_UNCHANGED)
        if img.ndim == 2:
            h, w = img.shape
            c = 1
        else:
            h, w, c = img.shape
        _, buf = cv2.imencode('.png', img, [cv2.IMWRITE_PNG_COMPRESSION, compress_level])
        return buf.tobytes(), (h, w, c)

    first, _ = read(img_path_list[0])
    # BasicSR's estimate; for images of a few KB it is below LMDB's page overhead and
    # BasicSR itself fails with MDB_MAP_FULL, so the fixture keeps a 1 MiB floor (the
    # map size does not change keys, values or meta lines)
    env = lmdb.open(lmdb_path, map_size=max(len(first) * len(img_path_list) * 10, 1 << 20))
    txn = env.begin(write=True)
    lines = []
    for idx, (path, key) in enumerate(zip(img_path_list, keys)):
        value, (h, w, c) = read(path)
        txn.put(key.encode('ascii'), value)
        lines.append(f'{key}.png ({h},{w},{c}) {compress_level}\n')
        if idx % 5000 == 0:
            txn.commit()
            txn = env.begin(write=True)
    txn.commit()
    env.close()
    with open(os.path.join(lmdb_path, 'meta_info.txt'), 'w') as f:
        f.writelines(lines)


def basicsr_lmdb_from_folder(folder, lmdb_path):
    """BasicSR's ``scandir(folder, suffix='png', recursive=True)``, sorted, keys = path
    without extension."""
    paths = []
    for dirpath, _, files in os.walk(folder):
        for f in files:
            if f.endswith('png'):
                paths.append(os.path.relpath(os.path.join(dirpath, f), folder))
    paths = sorted(paths)
    keys = [p[:-len('.png')] for p in paths]
    basicsr_make_lmdb(folder, lmdb_path, paths, keys)
    return keys


def read_rgb_float(path):
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    img = img[:, :, ::-1].astype(np.float32) / np.iinfo(img.dtype).max
    return img.transpose(2, 0, 1).copy()
