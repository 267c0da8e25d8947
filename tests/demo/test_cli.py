"""tools/demo.py / irkit-demo: the model list on the command line and its errors."""
import subprocess
import sys

import pytest

from irkit.demo.cli import model_specs, parse_args


def test_several_models_with_and_without_checkpoints():
    args = parse_args(['a.py', 'a.pth', '--config', 'b.py', '--config', 'c.py', 'c.pth', '--port', '8001'])
    assert model_specs(args) == [('a.py', 'a.pth'), ('b.py', None), ('c.py', 'c.pth')]
    assert (args.host, args.port, args.out, args.save) == ('127.0.0.1', 8001, 'work_dirs/demo', False)
    with pytest.raises(ValueError, match='--config takes CONFIG .CHECKPOINT., got 3 values: b.py x y'):
        model_specs(parse_args(['a.py', '--config', 'b.py', 'x', 'y']))


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
