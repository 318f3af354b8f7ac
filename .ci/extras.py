"""Print the requirements of the named optional-dependency groups of pyproject.toml.

CI installs the extras it tests with `pip install $(python .ci/extras.py distributed onnx docs)`
before installing the package itself the way README.md says, so the package is built only by
README's commands."""
import sys
import tomllib

with open("pyproject.toml", "rb") as f:
    groups = tomllib.load(f)["project"]["optional-dependencies"]
print("\n".join(req for name in sys.argv[1:] for req in groups[name]))
