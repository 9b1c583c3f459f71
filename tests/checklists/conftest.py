import pytest


@pytest.fixture
def module(world):
    """A module of our own with one published version: 2 sections, 3 items (built through the services)."""
    from .factories import make_published_module

    return make_published_module(world)
