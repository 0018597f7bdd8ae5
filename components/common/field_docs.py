"""Field docstrings of the library's models and argument dataclasses, read from the source on demand.

Every field is documented by the string literal right after it (its meaning and
default). Reading them at import time (pydantic's `use_attribute_docstrings`)
would parse the library's source in every `pulumi up` and plan; the generated
reference (docs/components.md) and the tests ask for them here instead.
"""

from __future__ import annotations

import ast
import inspect


def field_docs(cls: type) -> dict[str, str]:
    """Docstring of each annotated field of `cls` and of its bases within the library."""
    docs: dict[str, str] = {}
    for klass in reversed([k for k in cls.__mro__ if k.__module__.startswith("components.")]):
        body = ast.parse(inspect.getsource(klass)).body[0]
        assert isinstance(body, ast.ClassDef)
        for node, after in zip(body.body, body.body[1:] + [None]):
            if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                    and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                    and isinstance(after.value.value, str)):
                docs[node.target.id] = inspect.cleandoc(after.value.value)
    return docs
