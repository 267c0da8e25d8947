"""tools/demo.py / irkit-demo: the model list on the command line and its errors
(the command run as a process: tests/e2e/test_demo_cli.py)."""
import pytest

from irkit.demo.cli import model_specs, parse_args


def test_several_models_with_and_without_checkpoints():
    args = parse_args(['a.py', 'a.pth', '--config', 'b.py', '--config', 'c.py', 'c.pth', '--port', '8001'])
    assert model_specs(args) == [('a.py', 'a.pth'), ('b.py', None), ('c.py', 'c.pth')]
    assert (args.host, args.port, args.out, args.save) == ('127.0.0.1', 8001, 'work_dirs/demo', False)
    with pytest.raises(ValueError, match='--config takes CONFIG .CHECKPOINT., got 3 values: b.py x y'):
        model_specs(parse_args(['a.py', '--config', 'b.py', 'x', 'y']))
