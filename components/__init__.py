"""aiinfra components: multi-cloud AI infrastructure as Pulumi ComponentResources.

Import the components into your own program, or drive them from an
environment spec with `deploy(load_spec())` as this project's `__main__.py` does.
"""

from .common import Environment, InputError, Problem
from .storage import ObjectStore, ObjectStoreArgs, ObjectStoreOptions

__all__ = ["Environment", "InputError", "ObjectStore", "ObjectStoreArgs", "ObjectStoreOptions", "Problem"]
