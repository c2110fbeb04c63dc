"""The pins live in requirements.lock; environment.yml and pyproject agree with it."""

import re
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def lock() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        name, _, version = line.partition("==")
        assert version, f"requirements.lock: {line!r} is not pinned with =="
        pins[canonicalize_name(name)] = version
    return pins


def conda_env() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pins = {}
    for dep in env["dependencies"]:
        entries = dep["pip"] if isinstance(dep, dict) else [dep]
        for entry in entries:
            if entry in ("pip",) or entry.startswith("python="):
                continue
            match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==(\S+)", entry)
            assert match, f"environment.yml: {entry!r} is not pinned with =="
            pins[canonicalize_name(match[1])] = match[2]
    return pins


def pyproject_requirements() -> list[Requirement]:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        reqs += extra
    return [Requirement(r) for r in reqs]


def test_every_conda_package_has_the_locked_version():
    pins, env = lock(), conda_env()
    assert env, "environment.yml lists no packages"
    for name, version in env.items():
        assert name in pins, f"environment.yml lists {name}, which requirements.lock lacks"
        assert pins[name] == version, \
            f"{name}: environment.yml says {version}, requirements.lock says {pins[name]}"


def test_every_direct_dependency_is_in_both_and_admits_the_pin():
    pins, env = lock(), conda_env()
    for req in pyproject_requirements():
        name = canonicalize_name(req.name)
        assert name in pins, f"pyproject needs {name}; requirements.lock does not pin it"
        assert name in env, f"pyproject needs {name}; environment.yml does not list it"
        assert req.specifier.contains(pins[name], prereleases=True), \
            f"pyproject's range {req} excludes the pinned {name}=={pins[name]}"


def test_torch_is_the_cpu_build_pin_and_installed_first():
    assert lock()["torch"] == "2.13.0"
    makefile = (ROOT / "Makefile").read_text()
    torch_line = makefile.index("grep '^torch==' requirements.lock")
    rest_line = makefile.index("-r requirements.lock")
    assert torch_line < rest_line, "the Makefile must install torch before the other pins"


def test_the_versions_known_to_work_together():
    # DEVELOPERS.md's table of versions tested together on this workplace
    expected = {"numpy": "2.4.6", "numba": "0.68.1", "nbgrader": "0.9.6", "jupyterlab": "4.6.6",
                "notebook": "7.6.5", "ipywidgets": "8.1.9", "nbclient": "0.11.0",
                "nbconvert": "7.17.2", "matplotlib": "3.11.2", "playwright": "1.65.2"}
    pins = lock()
    assert {k: pins.get(k) for k in expected} == expected
