"""Hypothesis profiles (the only place they are defined) and shared fixtures.

dev (default): 25 examples, random. ci: 100 examples, derandomized, no example database.
nightly: 2000 examples. Choose with HYPOTHESIS_PROFILE=ci.
"""
import os

import pytest
from hypothesis import settings

settings.register_profile("dev", max_examples=25, deadline=None)
settings.register_profile("ci", max_examples=100, deadline=None, derandomize=True,
                          print_blob=True, database=None)
settings.register_profile("nightly", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture
def threads():
    """Run a block at a given thread count and restore the previous one afterwards."""
    import tinytensor as tt
    before = tt.get_num_threads()

    def set_(n):
        tt.set_num_threads(n)
    yield set_
    tt.set_num_threads(before)
