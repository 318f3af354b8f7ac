from tinytensor.utils import data  # noqa: F401
