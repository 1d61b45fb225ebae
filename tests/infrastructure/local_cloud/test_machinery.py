"""The version guard and install() (infra/local/patches/_machinery.py, __init__.py)."""

from __future__ import annotations

import moto
import pytest

from infra.local import patches
from infra.local.patches._machinery import _require_version
from tests.infrastructure.local_cloud.support import (
    SCALE,
    SERVICE,
)


def test_patches_refuse_other_moto_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    assert moto.__version__ == patches.SUPPORTED_MOTO_VERSION
    monkeypatch.setattr(moto, "__version__", "9.9.9")
    with pytest.raises(RuntimeError, match=r"patch 'lambda in-process invoke'.*moto 9\.9\.9"):
        _require_version("lambda in-process invoke")
    with pytest.raises(RuntimeError, match=r"patch 'register_service_account'"):
        patches.register_service_account(SERVICE)


def test_install_is_idempotent() -> None:
    before = list(patches.installed_patches())
    patches.install(time_scale=SCALE)
    assert list(patches.installed_patches()) == before
    assert len(before) >= 20
