"""tools/demo.py run as a command: a missing checkpoint is one line before anything starts
(its argument parsing: tests/demo/test_cli.py). Marked ``demo``: CI runs it again with the demo extra."""
import subprocess
import sys

import pytest


@pytest.mark.demo
def test_a_missing_checkpoint_is_one_line_before_anything_starts(repo_root, tmp_path):
    from irkit.demo.cli import missing_extra
    proc = subprocess.run([sys.executable, 'tools/demo.py', 'configs/demo_denoise.py', str(tmp_path / 'no.pth'),
                           '--out', str(tmp_path / 'out')], cwd=repo_root, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    if missing_extra():
        assert "the demo needs the optional extra: pip install -e '.[demo]'" in proc.stderr
    else:
        assert f'checkpoint not found: {tmp_path / "no.pth"}' in proc.stderr.splitlines()[0]
    assert not (tmp_path / 'out').exists()
