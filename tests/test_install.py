"""An installed (non-editable) Marsad: the wheel carries its gazetteer, and works from any folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, REPO


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from this checkout, installed into a folder of its own (its dependencies are the
    test environment's)."""
    tmp = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp / "dist"), str(REPO)],
                   check=True, timeout=600)
    [wheel] = (tmp / "dist").glob("marsad-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(tmp / "site"),
                    str(wheel)], check=True, timeout=600)
    return tmp / "site"


def run(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("MARSAD_CONFIG", None)
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_the_installed_package_is_the_one_imported_and_has_its_gazetteer(installed: Path, tmp_path: Path) -> None:
    res = run(installed, tmp_path, "-c", "import feeds, feeds.nlp.gazetteer as g; print(feeds.__file__); "
              "print(g.default_gazetteer_paths()[0])")
    module, gazetteer = res.stdout.split()
    assert module.startswith(str(installed)) and gazetteer.startswith(str(installed)), res.stderr
    assert (Path(gazetteer) / "countries.yaml").is_file()


def test_installed_marsad_checks_a_config_and_classifies_the_seed_from_another_folder(installed: Path,
                                                                                       tmp_path: Path) -> None:
    cfg = tmp_path / "etc"
    shutil.copytree(REPO / "config", cfg)
    elsewhere = tmp_path / "somewhere" / "else"
    elsewhere.mkdir(parents=True)
    check = run(installed, elsewhere, "-m", "workers.cli", "check", "--config", str(cfg / "marsad.yaml"))
    assert check.returncode == 0 and check.stdout.startswith("config OK"), check.stderr
    seed = FIXTURES / "seed" / "000_ac810ad0bcec6acb.txt"
    res = run(installed, elsewhere, "-m", "workers.cli", "classify", str(seed), "--json", "--config",
              str(cfg / "marsad.yaml"))
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert {"SY", "LY", "TR", "RU"} <= {r["id"] for r in out["regions"]}
    assert {"putin", "erdogan", "kremlin"} <= {a["id"] for a in out["actors"]}
    assert {"idlib", "libya-ceasefire"} <= {w["id"] for w in out["watches"]}


def test_the_readme_install_line_works_with_pythons_own_pip(tmp_path: Path) -> None:
    """The README's no-make line, with the pip that `python -m venv` bundles (23.x on Python 3.11), which does
    not resolve the lxml[html_clean] extra: page extraction must still work."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    pip = subprocess.run([str(venv / "bin" / "pip"), "--version"], capture_output=True, text=True, check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "-c", str(REPO / "constraints.txt"), "-e", str(REPO)],
                   check=True, timeout=1200, cwd=tmp_path)
    page = tmp_path / "seed.html"
    seed = (FIXTURES / "seed" / "000_ac810ad0bcec6acb.txt").read_text(encoding="utf-8")
    page.write_text(f"<html><head><title>t</title></head><body><article><p>{seed}</p></article></body></html>",
                    encoding="utf-8")
    res = subprocess.run([str(venv / "bin" / "marsad"), "classify", str(page), "--json", "--config",
                          str(REPO / "config" / "marsad.yaml")], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, (pip.stdout, res.stderr[-2000:])
    assert {"SY", "LY", "TR", "RU"} <= {r["id"] for r in json.loads(res.stdout)["regions"]}


def test_the_installed_package_carries_its_archive_migrations_console_and_event_data(installed: Path,
                                                                                     tmp_path: Path) -> None:
    """What is not Python in the wheel: the event-term frequencies, Alembic's migrations (an archive is created
    from them), the console's templates (parsed) and static files."""
    code = ("import sys; from pathlib import Path; from feeds.dedup import df; base, n = df.base(); assert n > 1000; "
            "from workers.archive.store import Archive; a = Archive('sqlite:///' + sys.argv[1]); "
            "from workers.archive import engine; print(engine.current(a.engine)); "
            "from workers.web.common import HERE, templates; "
            "assert (HERE / 'static' / 'chart.min.js').is_file() and (HERE / 'static' / 'style.css').is_file(); "
            "[templates.get_template(n) for n in ('base.html', 'stories.html', 'article.html')]; print('ok')")
    res = run(installed, tmp_path, "-c", code, str(tmp_path / "archive.db"))
    assert res.returncode == 0, res.stderr[-3000:]
    revision, ok = res.stdout.split()[-2:]
    assert revision == "0001" and ok == "ok"
