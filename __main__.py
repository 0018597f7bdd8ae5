"""The aiinfra program: read the stack's environment spec, build its cells."""

from components.deployment import deploy
from components.spec import load_spec

deploy(load_spec())
