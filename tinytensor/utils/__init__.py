from tinytensor.utils import data  # noqa: F401
from tinytensor.utils.summary import summary  # noqa: F401
