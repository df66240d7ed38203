"""pip's find-links, read without pip: the environment, then the config files in pip's order."""

from __future__ import annotations

from pathlib import Path

from vllm_matrix import pipconfig


def write_conf(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)
    return path


def test_the_user_file_sets_find_links_for_a_venv_without_pip(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    home = tmp_path / "home"
    write_conf(home / ".config" / "pip" / "pip.conf", f"[global]\nfind-links = {wheels}\n")
    env = {"HOME": str(home), "XDG_CONFIG_DIRS": str(tmp_path / "none")}
    files = pipconfig.config_files(env, home, tmp_path / "venv")
    assert pipconfig.configured_value(env, files) == str(wheels)


def test_pip_find_links_in_the_environment_wins_over_the_files(tmp_path: Path) -> None:
    conf = write_conf(tmp_path / "pip.conf", "[global]\nfind-links = /from/file\n")
    assert pipconfig.configured_value({"PIP_FIND_LINKS": "/from/env"}, [conf]) == "/from/env"


def test_a_later_file_overrides_an_earlier_one(tmp_path: Path) -> None:
    first = write_conf(tmp_path / "a.conf", "[global]\nfind-links = /a\n")
    second = write_conf(tmp_path / "b.conf", "[install]\nfind-links = /b\n")
    broken = write_conf(tmp_path / "c.conf", "not an ini file [\n")
    assert pipconfig.configured_value({}, [first, second, broken, tmp_path / "missing.conf"]) == "/b"


def test_the_first_existing_directory_is_used_and_none_when_none_exists(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    env = {"PIP_FIND_LINKS": f"/does/not/exist file://{wheels}", "HOME": str(tmp_path)}
    assert pipconfig.find_links(env) == wheels
    assert pipconfig.find_links({"PIP_FIND_LINKS": "/does/not/exist", "HOME": str(tmp_path)}) is None


def test_release_override_keeps_what_the_user_set(tmp_path: Path) -> None:
    env = {"PIP_FIND_LINKS": str(tmp_path), "VLLM_MATRIX_INDEX_RELEASE": "/mine"}
    assert pipconfig.release_override(env) == {}
    assert pipconfig.release_override({"PIP_FIND_LINKS": str(tmp_path)}) == {
        pipconfig.RELEASE_ENV: str(tmp_path)
    }
