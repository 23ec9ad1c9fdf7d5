"""Tests that need the real exports never pass silently in CI: the guard fails there, skips elsewhere."""

from __future__ import annotations

import pytest

from tests import conftest
from tests.conftest import REQUIRED_EXPORTS, require_real_exports


@pytest.fixture
def no_shared_data(tmp_path, monkeypatch):
    monkeypatch.setattr(conftest, "SHARED_DATA_DIR", tmp_path / "shared" / "data")
    return tmp_path


def test_missing_exports_fail_in_ci(no_shared_data):
    with pytest.raises(pytest.fail.Exception, match="CI=true but the real exports .* are not in"):
        require_real_exports({"CI": "true"})


def test_missing_exports_skip_outside_ci(no_shared_data):
    with pytest.raises(pytest.skip.Exception, match="the real exports"):
        require_real_exports({})
    with pytest.raises(pytest.skip.Exception):
        require_real_exports({"CI": "false"})


def test_exports_found_through_the_environment_variable(no_shared_data):
    exports = no_shared_data / "exports"
    exports.mkdir()
    for name in REQUIRED_EXPORTS[:-1]:
        (exports / name).write_text("id\n")
    with pytest.raises(pytest.fail.Exception):  # an incomplete set is missing data, not data
        require_real_exports({"CI": "true", "ONECLICK_DATA_DIR": str(exports)})
    (exports / REQUIRED_EXPORTS[-1]).write_text("id\n")
    assert require_real_exports({"CI": "true", "ONECLICK_DATA_DIR": str(exports)}) == exports
