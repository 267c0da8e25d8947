"""The demo page driven in a real headless Chromium (Debian's chromium + chromium-driver, Selenium).

Skipped, with the reason printed (``pytest -rs``), when Selenium, Chromium or chromedriver is
missing; ``IRKIT_CHROMIUM`` / ``IRKIT_CHROMEDRIVER`` point at other binaries.
"""
import base64
import os
import shutil

import numpy as np
import pytest

from irkit.apis import restore

from tests.demo.conftest import decode_rgb, png_bytes

pytestmark = [pytest.mark.slow, pytest.mark.demo]

H, W = 64, 96


def _find(env, names):
    if os.environ.get(env):
        return os.environ[env] if os.path.isfile(os.environ[env]) else None
    return next((p for p in map(shutil.which, names) if p), None)


@pytest.fixture(scope='module')
def browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("Selenium is not installed (pip install -e '.[dev]')")
    chromium = _find('IRKIT_CHROMIUM', ['chromium', 'chromium-browser', 'google-chrome'])
    driver_path = _find('IRKIT_CHROMEDRIVER', ['chromedriver'])
    if chromium is None or driver_path is None:
        pytest.skip(f'no headless browser: chromium={chromium}, chromedriver={driver_path} '
                    '(Debian: apt-get install chromium chromium-driver)')
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for a in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu',
              '--window-size=1280,1000', '--force-device-scale-factor=1'):
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service(driver_path), options=opts)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    yield driver
    driver.quit()


def wait(driver, condition, timeout=60):
    from selenium.webdriver.support.ui import WebDriverWait
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: d.execute_script(condition))


def blob(driver, element_id):
    """The bytes behind an element's blob: URL (the result, the mask sent)."""
    data = driver.execute_async_script(
        'const done = arguments[arguments.length - 1];'
        f'const el = document.getElementById("{element_id}");'
        'fetch(el.href || el.src).then(r => r.blob()).then(b => { const f = new FileReader();'
        ' f.onload = () => done(f.result.split(",")[1]); f.readAsDataURL(b); });')
    return base64.b64decode(data)


def open_page(driver, server, model, tmp_path, img):
    from selenium.webdriver.support.ui import Select
    driver.get(server.url)
    wait(driver, 'return document.body.dataset.state === "idle"')
    Select(driver.find_element('id', 'model')).select_by_value(model)
    path = tmp_path / 'photo.png'
    path.write_bytes(png_bytes(img))
    driver.find_element('id', 'image-file').send_keys(str(path))
    wait(driver, f'return document.getElementById("image-canvas").width === {img.shape[1]}')
    return path


def stroke(driver, points, size):
    """Paint through image-pixel ``points`` with a brush of ``size`` pixels (pointer events)."""
    from selenium.webdriver.common.action_chains import ActionChains
    driver.execute_script('const s = document.getElementById("brush-size"); s.value = arguments[0];'
                          's.dispatchEvent(new Event("input"));', size)
    canvas = driver.find_element('id', 'mask-canvas')
    rect = driver.execute_script('const r = arguments[0].getBoundingClientRect(); return [r.width, r.height];', canvas)
    sx, sy = rect[0] / W, rect[1] / H
    # offsets from the element's centre, in CSS pixels (the canvas is shown at its own size here)
    offs = [(round((x + 0.5) * sx - rect[0] / 2), round((y + 0.5) * sy - rect[1] / 2)) for x, y in points]
    chain = ActionChains(driver, duration=20).move_to_element_with_offset(canvas, *offs[0]).click_and_hold()
    for (x0, y0), (x1, y1) in zip(offs, offs[1:]):
        chain = chain.move_by_offset(x1 - x0, y1 - y0)
    chain.release().perform()


def capsule(p0, p1, radius):
    """Pixels whose centre lies within ``radius`` of the segment p0-p1 (image coordinates)."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64) + 0.5
    (x0, y0), (x1, y1) = (np.add(p0, 0.5), np.add(p1, 0.5))
    d = np.array([x1 - x0, y1 - y0])
    t = np.clip(((xx - x0) * d[0] + (yy - y0) * d[1]) / max(d @ d, 1e-9), 0, 1)
    return np.hypot(xx - (x0 + t * d[0]), yy - (y0 + t * d[1])) <= radius


def test_inpainting_page_changes_only_the_painted_region(browser, server, tmp_path):
    img = np.random.default_rng(3).integers(0, 256, (H, W, 3), dtype=np.uint8)
    open_page(browser, server, 'toy_inpaint', tmp_path, img)
    assert 'random initialisation' in browser.find_element('id', 'model-info').text
    p0, p1, size = (20, 30), (70, 34), 10
    stroke(browser, [p0, (45, 32), p1], size)
    browser.find_element('id', 'run').click()
    wait(browser, 'return document.body.dataset.state === "done"')
    out = decode_rgb(blob(browser, 'download'))
    sent = decode_rgb(blob(browser, 'mask-img'))[..., 0] == 255
    assert out.shape == img.shape
    inner, outer = capsule(p0, p1, size / 2 - 1.5), capsule(p0, p1, size / 2 + 1.5)
    assert sent[inner].all() and not sent[~outer].any()      # the mask sent is the stroke
    changed = (out != img).any(axis=2)
    assert not changed[~sent].any()                           # nothing outside the painted region changed
    assert changed[sent].mean() > 0.9                         # and the painted region was filled
    assert 'done' in browser.find_element('id', 'message').text
    assert browser.find_element('id', 'download').get_attribute('download') == 'photo_toy_inpaint.png'


def test_brush_eraser_undo_and_slider(browser, server, tmp_path):
    img = np.full((H, W, 3), 128, np.uint8)
    open_page(browser, server, 'toy_inpaint', tmp_path, img)
    holes = 'return state.undo.length + ":" + Array.from(maskCtx.getImageData(0, 0, %d, %d).data)' \
            '.filter((v, i) => i %% 4 === 3 && v >= 128).length' % (W, H)
    stroke(browser, [(10, 10), (60, 10)], 8)
    first = browser.execute_script(holes)
    stroke(browser, [(10, 40), (60, 40)], 8)
    browser.find_element('id', 'undo').click()
    assert browser.execute_script(holes) == first                  # undo removed the second stroke
    browser.find_element('id', 'tool-eraser').click()
    stroke(browser, [(30, 10), (40, 10)], 12)
    n_after = int(browser.execute_script(holes).split(':')[1])
    assert 0 < n_after < int(first.split(':')[1])                   # the eraser removed part of it
    browser.find_element('id', 'run').click()
    wait(browser, 'return document.body.dataset.state === "done"')
    browser.find_element('id', 'view-slider').click()
    slider = browser.find_element('id', 'compare-slider')
    browser.execute_script('arguments[0].value = 30; arguments[0].dispatchEvent(new Event("input"));', slider)
    assert browser.find_element('id', 'compare-after').value_of_css_property('clip-path') == 'inset(0px 70% 0px 0px)'
    assert browser.find_element('id', 'side').is_displayed() is False


def test_restoration_page_returns_the_api_result(browser, server, demo_models, tmp_path):
    img = np.random.default_rng(4).integers(0, 256, (H, W, 3), dtype=np.uint8)
    path = open_page(browser, server, 'demo_denoise', tmp_path, img)
    assert browser.find_element('id', 'restore-tools').is_displayed()
    assert not browser.find_element('id', 'mask-canvas').is_displayed()
    browser.execute_script('document.getElementById("tile").value = 32;'
                           'document.getElementById("tile-overlap").value = 8;')
    browser.find_element('id', 'run').click()
    wait(browser, 'return document.body.dataset.state === "done"')
    out = decode_rgb(blob(browser, 'download'))
    expected = restore(demo_models[0].model, str(path), tile=32, tile_overlap=8)
    assert out.shape == img.shape
    assert np.array_equal(out, (expected.clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))


def test_clean_upload_degraded_by_the_test_pipeline(browser, server, demo_models, repo_root):
    from selenium.webdriver.support.ui import Select

    from irkit.apis.restoration import degrade
    browser.get(server.url)
    wait(browser, 'return document.body.dataset.state === "idle"')
    Select(browser.find_element('id', 'model')).select_by_value('demo_denoise')
    assert 'AddGaussianNoise(sigma=25, seed=0)' in browser.find_element('id', 'degrade-label').text
    path = f'{repo_root}/data/demo/test/chelsea.png'
    browser.find_element('id', 'image-file').send_keys(path)
    wait(browser, 'return document.getElementById("image-canvas").width === 451')
    browser.find_element('id', 'degrade').click()
    browser.find_element('id', 'run').click()
    wait(browser, 'return document.body.dataset.state === "done"')
    model = demo_models[0].model
    to8 = lambda t: (t.clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)  # noqa: E731
    assert np.array_equal(decode_rgb(blob(browser, 'input-img')), to8(degrade(model, path)))
    assert np.array_equal(decode_rgb(blob(browser, 'download')), to8(restore(model, {'gt': path})))
    assert browser.find_element('id', 'gt-fig').is_displayed()


def test_a_bad_file_gets_a_one_line_message(browser, server, tmp_path):
    browser.get(server.url)
    wait(browser, 'return document.body.dataset.state === "idle"')
    bad = tmp_path / 'holiday.jpg'
    bad.write_bytes(b'\xff\xd8 this is not a JPEG')
    browser.find_element('id', 'image-file').send_keys(str(bad))
    wait(browser, 'return document.getElementById("message").className === "error"')
    msg = browser.find_element('id', 'message').text
    assert msg.startswith("image 'holiday.jpg': cannot decode image") and '\n' not in msg
    assert browser.find_element('id', 'run').get_attribute('disabled') is not None
    big = tmp_path / 'huge.png'
    big.write_bytes(b'\0' * (3 << 19))                      # 1.5 MiB; this server takes 1 MiB
    browser.find_element('id', 'image-file').send_keys(str(big))
    wait(browser, 'return document.getElementById("message").textContent.startsWith("huge.png")')
    assert browser.find_element('id', 'message').text == \
        'huge.png is 1.5 MiB; this server accepts uploads up to 1 MiB (--max-upload-mb)'
