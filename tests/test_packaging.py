"""What the wheel ships for an operator: the systemd units, the reverse proxy examples and the
guide, installed where the units' `Documentation=` says; the proxies point where actwatch
listens. The wheel is built here, offline, with hatchling."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

PREFIX = "/opt/actwatch"  # the virtual environment the guide and the units use


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    from hatchling.builders.wheel import WheelBuilder

    out = tmp_path_factory.mktemp("wheel")
    [built] = list(WheelBuilder(str(REPO)).build(directory=str(out), versions=["standard"]))
    return zipfile.ZipFile(built)


def data_files(wheel: zipfile.ZipFile) -> dict[str, str]:
    """Files installed under the prefix: path below the prefix -> name in the wheel."""
    found = {}
    for name in wheel.namelist():
        match = re.match(r"^[^/]+\.data/data/(.+)$", name)
        if match:
            found[match[1]] = name
    return found


def test_contrib_is_installed_under_the_prefix(wheel: zipfile.ZipFile) -> None:
    installed = data_files(wheel)
    for path in sorted((REPO / "contrib").iterdir()):
        target = f"share/actwatch/contrib/{path.name}"
        assert target in installed, f"{path.name} is not in the wheel"
        assert wheel.read(installed[target]) == path.read_bytes()


@pytest.mark.parametrize("unit", ["actwatch.service", "actwatch-send-worker@.service"])
def test_each_unit_documents_itself_with_an_installed_file(
    wheel: zipfile.ZipFile, unit: str
) -> None:
    text = (REPO / "contrib" / unit).read_text(encoding="utf-8")
    [documentation] = re.findall(r"^Documentation=file://(\S+)$", text, re.M)
    assert documentation.startswith(PREFIX + "/")
    assert documentation.removeprefix(PREFIX + "/") in data_files(wheel)
    [exec_start] = re.findall(r"^ExecStart=(\S+)", text, re.M)
    assert exec_start == f"{PREFIX}/bin/actwatch"
    assert (
        "actwatch = actwatch.cli:main"
        in wheel.read(next(n for n in wheel.namelist() if n.endswith("entry_points.txt"))).decode()
    )


def test_the_proxies_serve_https_and_pass_to_where_actwatch_listens() -> None:
    config = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    web = config["web"]
    assert web["base_url"].startswith("https://")
    upstream = f"{web['host']}:{web['port']}"
    caddy = (REPO / "contrib" / "Caddyfile").read_text(encoding="utf-8")
    assert f"reverse_proxy {upstream}" in caddy
    nginx = (REPO / "contrib" / "nginx-actwatch.conf").read_text(encoding="utf-8")
    assert f"server {upstream};" in nginx
    assert "listen 443 ssl;" in nginx and "return 308 https://" in nginx
    assert "X-Forwarded-For" in nginx and "X-Forwarded-Proto" in nginx
    for text in (caddy, nginx):
        assert "/metrics" in text  # kept from the internet
        assert "unsubscribe|preferences|subscribe/confirm" in text  # tokens kept out of logs
    # Each is balanced, so it at least parses as blocks.
    for text in (caddy, re.sub(r"#.*", "", nginx)):
        assert text.count("{") == text.count("}")


def test_the_guide_names_the_installed_files() -> None:
    guide = (REPO / "contrib" / "README.md").read_text(encoding="utf-8")
    for path in Path(REPO / "contrib").iterdir():
        if path.name != "README.md":
            assert path.name in guide, f"the guide does not mention {path.name}"
    assert f"{PREFIX}/share/actwatch/contrib/actwatch.service" in guide
