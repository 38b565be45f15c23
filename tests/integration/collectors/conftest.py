"""Fixtures of the collector tests: a fake VK server and VK collectors pointed at it."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from collectors.vk import VkCollector, VkOptions
from collectors.vk_client import VkClient

SECRET = "test-secret"


def _load_fake() -> Any:
    # --import-mode=importlib puts no test folder on sys.path: load the sibling by its path.
    name = "fake_vk"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("fake_vk.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture
def fake_vk() -> Iterator[Any]:
    """A running fake VK API on 127.0.0.1 (FakeVk from fake_vk.py)."""
    fake = _load_fake().FakeVk()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def sleeps() -> list[float]:
    """Every sleep the VK clients asked for (they never really sleep in tests)."""
    return []


@pytest.fixture
def vk_client(fake_vk: Any, sleeps: list[float]) -> Iterator[Callable[..., VkClient]]:
    """Build a VkClient on the fake server; closed after the test."""
    made: list[VkClient] = []

    def build(token: str = "group-token", **kwargs: Any) -> VkClient:
        kwargs.setdefault("min_interval", 0)
        client = VkClient(token=token, api_base=fake_vk.url, sleep=sleeps.append, **kwargs)
        made.append(client)
        return client

    yield build
    for client in made:
        client.close()


@pytest.fixture
def make_vk(fake_vk: Any, vk_client: Callable[..., VkClient]) -> Callable[..., VkCollector]:
    """Build a VkCollector for the fake community (source "vk-test")."""

    def build(*, search: bool = False, **options: Any) -> VkCollector:
        opts = VkOptions(source="vk-test", group_id=fake_vk.group_id, **options)
        return VkCollector(
            options=opts,
            secret=SECRET,
            client=vk_client(),
            search_client=vk_client("user-token") if search else None,
        )

    return build
