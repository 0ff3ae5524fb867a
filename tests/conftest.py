"""Shared fixtures."""

import pytest

from helpers import built_image


@pytest.fixture(scope="session")
def built_images():
    return {board: built_image(board) for board in ("esp32s3-epd75", "esp32s3-lcd43")}
