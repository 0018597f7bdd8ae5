"""Object storage: `ObjectStore` and its arguments."""

from .args import ObjectStoreArgs, ObjectStoreOptions, storage_problems
from .object_store import ObjectStore

__all__ = ["ObjectStore", "ObjectStoreArgs", "ObjectStoreOptions", "storage_problems"]
