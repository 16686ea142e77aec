"""`chaos sim up` argument handling, through the real CLI in a subprocess."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path


def test_refuses_to_overwrite_the_users_kubeconfig(
        chaos: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path) -> None:
    user_config = tmp_path / ".kube" / "config"
    user_config.parent.mkdir()
    user_config.write_text("precious")
    res = chaos(["sim", "up", "--kubeconfig", str(user_config)], env={"HOME": str(tmp_path)}, cwd=tmp_path)
    assert res.returncode == 2
    assert "refusing to overwrite" in res.stderr
    assert "Traceback" not in res.stderr
    assert user_config.read_text() == "precious"


def test_bad_rules_file_is_a_clear_error(chaos: Callable[..., subprocess.CompletedProcess[str]],
                                         tmp_path: Path) -> None:
    res = chaos(["sim", "up", "--token", "a", "--restricted-token", "b",
                 "--rules", str(tmp_path / "none.yaml"), "--kubeconfig", str(tmp_path / "kc")], cwd=tmp_path)
    assert res.returncode == 2
    assert "none.yaml" in res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "kc").exists()
