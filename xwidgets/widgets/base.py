"""The shared base of xwidgets' widgets.

Each widget is one Python class plus one TypeScript module (js/<module>.ts), built by
esbuild into ``xwidgets/static/<module>.js``. The base class loads that bundle as the
anywidget ``_esm``, gives a deterministic ``__repr__`` (nbval compares text output, and
anywidget's default repr prints a memory address) and exposes the synced state for the
offline HTML reports (``xwidgets.report``).
"""

from __future__ import annotations

import pathlib
from typing import Any, ClassVar, Iterable

import anywidget
import ipywidgets
import traitlets

__all__ = ["XWidget", "STATIC_DIR", "bundle_path", "read_bundle", "BundleMissingError"]

#: where the build writes the front end (generated, not edited)
STATIC_DIR = pathlib.Path(__file__).resolve().parent.parent / "static"

#: traits that every anywidget has and a report does not need
_FRAMEWORK_TRAITS = frozenset(anywidget.AnyWidget.class_trait_names()) | frozenset(
    ipywidgets.DOMWidget.class_trait_names()
)


class BundleMissingError(FileNotFoundError):
    """The built front end is missing (a source checkout where the build has not run)."""


def bundle_path(name: str) -> pathlib.Path:
    """Path of a built bundle, ``xwidgets/static/<name>.js``."""
    return STATIC_DIR / f"{name}.js"


def read_bundle(name: str) -> str:
    """The text of a built bundle, or a BundleMissingError that says how to build it."""
    path = bundle_path(name)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BundleMissingError(
            f"The xwidgets front end is not built: {path} is missing. "
            "Run `npm install && npm run build` in the repository root "
            "(or `pip install -e .`, which runs the build)."
        ) from None


class XWidget(anywidget.AnyWidget):
    """Base of xwidgets' anywidgets.

    Subclasses set ``_module`` (the bundle name in ``xwidgets/static``) and may override
    ``_repr_fields``. The bundle is read when a widget is created, so importing xwidgets
    works before the front end is built, and a missing bundle fails with a clear message.
    """

    _module: ClassVar[str] = ""

    # Declared as a trait so anywidget does not look for a class-level file path.
    _esm = traitlets.Unicode("").tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        if not self._module:
            raise TypeError(f"{type(self).__name__} must set the class attribute _module")
        kwargs.setdefault("_esm", read_bundle(self._module))
        super().__init__(**kwargs)

    # ------------------------------------------------------------------ reports
    @classmethod
    def state_trait_names(cls) -> list[str]:
        """Names of the synced traits that make up this widget's own state, in definition order."""
        names = cls.class_trait_names(sync=True)
        return [n for n in names if not n.startswith("_") and n not in _FRAMEWORK_TRAITS]

    def report_state(self) -> dict[str, Any]:
        """The synced trait values that a report needs to render this widget offline.

        Bytes stay bytes here; :func:`xwidgets.report.write_report` encodes them.
        """
        return {name: getattr(self, name) for name in self.state_trait_names()}

    @property
    def report_module(self) -> str:
        """Name of the front-end module that renders this widget (in the report runtime too)."""
        return self._module

    # ------------------------------------------------------------------ repr
    def _repr_fields(self) -> Iterable[tuple[str, Any]]:
        """(name, value) pairs shown by ``__repr__``; deterministic, short."""
        for name in self.state_trait_names():
            value = getattr(self, name)
            if isinstance(value, (str, int, float, bool)) or value is None:
                yield name, value

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in self._repr_fields())
        return f"{type(self).__name__}({fields})"
