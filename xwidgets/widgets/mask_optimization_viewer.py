"""MaskOptimizationViewer: the masks of a mask optimisation evolving, live, then scrubbed.

The NeuroMask paper's figure 4 (the mask after 0, 50, 100... iterations), interactive.
Pass :meth:`MaskOptimizationViewer.callback` to any mask-optimisation method (meaningful
and extremal perturbation, NeuroMask, I-GOS, iGOS++: they call ``callback(step, masks)``
every ``callback_every`` steps); each call pushes the current masks to the browser, which
draws the newest one over its image as it arrives, with the step number and the loss when
one is known. Every recorded step is kept (up to ``max_frames``), and a step slider scrubs
through them in the browser, with no kernel round trip; so do the row (image and target)
picker, opacity, colour map and value range. The front end is
``js/mask_optimization_viewer.ts``.

    viewer = xw.MaskOptimizationViewer(model, images)
    viewer                                    # display it first: it fills in while the run goes
    sal = xw.explain(model, images, method="meaningful_perturbation",
                     callback=viewer.callback, callback_every=10)
    viewer.finish(sal)                        # class names, losses, the whole record

or, in one call, ``sal = viewer.explain(method="meaningful_perturbation")``.

Streaming: each callback sends only its own masks (the ``live`` trait: float16, the rows of
the images of that call), so a run of T callbacks sends T frames, not T^2. The browser
accumulates them. The whole record (``frames``) is synced by :meth:`flush` (which
:meth:`finish`, :meth:`explain` and a report call), or when a newly opened view asks for it.

Memory: the kernel keeps at most ``max_frames`` frames of ``R x H x W`` values (R rows:
images x target passes x areas) as float16, 2 bytes a value (:attr:`memory_bytes`); the
browser keeps the same frames as float32. When a run records more, the kept steps are
subsampled evenly: every 2nd, then every 4th... recorded step, plus always the newest.

Rows: one per (image, target pass[, area]), image-major, as in a ``Saliency`` result: row
``(i * K + k) * A + a`` is image i, pass k, area a (A > 1 only for extremal perturbation
with several areas). When ``xw.explain`` splits the images into batches (``batch_size``),
each batch is optimised on its own and the steps start again; the viewer then fills the
next images' rows of the same steps. A call whose rows do not fit (a new run) starts over.

Trait contract (Python <-> JS):

===============  ================================================================
``images``       ``[{"png": bytes, "width": int, "height": int}]``: one per image
``rows``         ``[{"image": int, "label": str, "detail": str}]`` (R): what each row
                 of the masks shows; ``image`` indexes ``images``
``frames``       the whole record at the last flush: ``{"seq": int, "steps": [T],
                 "masks": {"data", "dtype", "shape": [T, R, H, W]}, "losses":
                 {"data", "dtype": "float32", "shape": [T, R]} | None}``; ``{}`` before
                 any. Rows not yet optimised (later batches) are NaN (drawn clear),
                 unknown losses NaN.
``live``         the newest callback's masks: ``{"seq", "step", "start", "kept",
                 "masks": {... "shape": [n, H, W]}, "losses": {... [n]} | None}``, rows
                 ``[start, start + n)``; ``{}`` before any
``kept_steps``   the steps kept now, ascending (the browser drops the others)
``step``         the step shown when ``follow`` is off (synced both ways); a step that
                 is not kept moves to the nearest kept one
``follow``       show the newest step as it arrives (the slider turns it off, and back on
                 at its right end)
``row``          position in ``rows`` of the row shown (synced both ways)
``opacity``      float in [0, 1]; ``colormap``: one of :data:`COLORMAPS`
``value_range``  one of :data:`VALUE_RANGES`: ``"unit"`` (masks in [0, 1], the same
                 colours at every step), ``"frame"`` (each frame min-max), ``"run"``
                 (min-max over the row's kept frames)
``title``, ``status``  heading and the line under it (what the run is doing)
===============  ================================================================
"""

from __future__ import annotations

import numbers
from typing import Any, Iterable

import numpy as np
import traitlets

from .._validation import Described, bad_argument, describe
from ._common import COLORMAPS, check_colormap, check_int, check_opacity, validated_choice, validated_opacity
from .base import XWidget
from .serialise import array_payload, float16_safe, image_payload

__all__ = ["MaskOptimizationViewer", "VALUE_RANGES", "DEFAULT_MAX_FRAMES"]

#: how mask values become colours (js/mask_optimization_viewer.ts, VALUE_RANGES)
VALUE_RANGES = ("unit", "frame", "run")

#: frames kept by default: 100 frames of one 224 x 224 mask are 10 MB as float16
DEFAULT_MAX_FRAMES = 100

_WAITING = "Waiting for masks: pass callback=viewer.callback to a mask optimisation (xw.explain)."


def _ordinal(n: int) -> str:
    """2 -> "2nd", 4 -> "4th" (the strides are powers of 2)."""
    return f"{n}{'nd' if n % 10 == 2 and n % 100 != 12 else 'th'}"


def _check_max_frames(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 2:
        raise bad_argument("max_frames", "an int >= 2 (frames kept; more are subsampled evenly)", value)
    return int(value)


def _display_images(images: Any, model: Any) -> tuple[np.ndarray, Any]:
    """(N, H, W, 3) uint8 display pixels, and the model inputs (None without a model)."""
    if model is not None:
        from ..models.adapter import wrap

        adapter = wrap(model)
        inputs, display = adapter.prepare(images)
        return display, (adapter, inputs)
    import torch

    from ..models.inputs import _as_list, _to_pil

    if isinstance(images, torch.Tensor) and images.is_floating_point():
        raise bad_argument(
            "images", "uint8 pixels, PIL images or paths (a preprocessed float tensor needs the model)", images,
            "Pass the model too: MaskOptimizationViewer(model, images)",
        )
    items = _as_list(images)
    if not items:
        raise bad_argument("images", "at least one image", images)
    pixels = [np.asarray(_to_pil(item, i)) for i, item in enumerate(items)]
    return pixels, None  # type: ignore[return-value]


def _is_model(value: Any) -> bool:
    import torch

    from ..models.adapter import ModelAdapter

    return isinstance(value, (ModelAdapter, torch.nn.Module))


def _as_numpy(value: Any, argument: str) -> np.ndarray:
    import torch

    if isinstance(value, torch.Tensor):
        return value.detach().float().cpu().numpy()
    if isinstance(value, np.ndarray):
        return value
    raise bad_argument(argument, "a torch.Tensor or numpy array", value)


class _Record:
    """The kept frames of one run: step -> (R, H, W) masks and (R,) losses.

    Steps get an ordinal in order of arrival. A step is kept when its ordinal is a
    multiple of ``stride``, or it is the newest; when more than ``cap`` are kept the
    stride doubles (so the kept steps stay evenly spaced over the run).
    """

    def __init__(self, rows: int, height: int, width: int, dtype: str, cap: int) -> None:
        self.rows, self.height, self.width, self.dtype, self.cap = rows, height, width, dtype, cap
        self.stride = 1
        self.ordinal: dict[int, int] = {}
        self.masks: dict[int, np.ndarray] = {}
        self.losses: dict[int, np.ndarray] = {}

    @property
    def steps(self) -> list[int]:
        return sorted(self.masks)

    def _newest(self) -> int:
        return len(self.ordinal) - 1

    def _keeps(self, step: int) -> bool:
        o = self.ordinal[step]
        return o % self.stride == 0 or o == self._newest()

    def add(self, step: int, start: int, masks: np.ndarray, losses: np.ndarray | None) -> bool:
        """Store rows ``[start, start + n)`` of ``step``; True when the step is kept."""
        if step not in self.ordinal:
            self.ordinal[step] = len(self.ordinal)
            for old in [s for s in self.masks if not self._keeps(s)]:  # the previous newest
                self._drop(old)
            self.masks[step] = np.full((self.rows, self.height, self.width), np.nan, dtype=self.dtype)
            self.losses[step] = np.full(self.rows, np.nan, dtype=np.float32)
            while len(self.masks) > self.cap:
                self.stride *= 2
                for old in [s for s in self.masks if not self._keeps(s)]:
                    self._drop(old)
        if step not in self.masks:
            return False
        n = masks.shape[0]
        self.masks[step][start : start + n] = masks
        if losses is not None:
            self.losses[step][start : start + n] = losses
        return True

    def _drop(self, step: int) -> None:
        del self.masks[step]
        del self.losses[step]

    @property
    def nbytes(self) -> int:
        return sum(m.nbytes for m in self.masks.values())


class MaskOptimizationViewer(XWidget):
    """Masks of a mask optimisation (meaningful or extremal perturbation, NeuroMask,
    I-GOS, iGOS++) over their images: live while the kernel optimises, then a step slider.

    Args:
        model: the classifier (a ModelAdapter or ``nn.Module``), used to prepare the images
            exactly as ``xw.explain`` does (resize, crop), so masks and pixels line up;
            optional: ``MaskOptimizationViewer(images)`` shows the images as they are.
        images: what you pass to ``xw.explain``: PIL images, HxWx3 uint8 arrays, paths, or
            (with the model) a preprocessed float tensor.
        max_frames: how many steps to keep (>= 2); beyond that the kept steps are
            subsampled evenly. Each frame costs R x H x W x 2 bytes in the kernel (R rows),
            twice that in the browser: see :attr:`memory_bytes`.
        opacity: mask opacity in [0, 1].
        colormap: one of :data:`COLORMAPS`.
        value_range: one of :data:`VALUE_RANGES` ("unit": masks in [0, 1]).
        title: heading text.

    Use :meth:`callback` as the method's ``callback``, then :meth:`finish` with the result.
    """

    _module = "mask_optimization_viewer"

    images = traitlets.List(traitlets.Dict()).tag(sync=True)
    rows = traitlets.List(traitlets.Dict()).tag(sync=True)
    frames = traitlets.Dict().tag(sync=True)
    live = traitlets.Dict().tag(sync=True)
    kept_steps = traitlets.List(traitlets.Int()).tag(sync=True)
    step = traitlets.Int(0).tag(sync=True)
    follow = traitlets.Bool(True).tag(sync=True)
    row = traitlets.Int(0).tag(sync=True)
    opacity = traitlets.Float(0.5).tag(sync=True)
    colormap = traitlets.Unicode("viridis").tag(sync=True)
    value_range = traitlets.Unicode("unit").tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        model: Any = None,
        images: Any = None,
        *,
        max_frames: int = DEFAULT_MAX_FRAMES,
        opacity: float = 0.5,
        colormap: str = "viridis",
        value_range: str = "unit",
        title: str = "Mask optimisation",
        _display: np.ndarray | None = None,
    ) -> None:
        if _display is not None:
            display, prepared = _display, None
        else:
            if images is None:
                if model is None:
                    raise bad_argument("images", "the images being explained", None)
                if not _is_model(model):  # MaskOptimizationViewer(images)
                    model, images = None, model
                else:
                    raise bad_argument("images", "the images being explained (after the model)", None)
            elif model is not None and not _is_model(model):
                raise bad_argument("model", "a ModelAdapter, an nn.Module or None", model)
            display, prepared = _display_images(images, model)
        self.max_frames = _check_max_frames(max_frames)
        opacity = check_opacity(opacity)
        colormap = check_colormap(colormap)
        if not isinstance(value_range, str) or value_range not in VALUE_RANGES:
            raise bad_argument("value_range", f"one of {', '.join(repr(v) for v in VALUE_RANGES)}", value_range)
        if not isinstance(title, str):
            raise bad_argument("title", "a str", title)

        self._prepared = prepared  # (adapter, inputs) or None
        self._display = list(display)
        self.num_images = len(self._display)
        self._ready = False
        self._quiet = False
        self._reset_run()
        super().__init__(
            images=[image_payload(np.asarray(d)) for d in self._display],
            rows=[],
            frames={},
            live={},
            kept_steps=[],
            opacity=opacity,
            colormap=colormap,
            value_range=value_range,
            title=title,
            status=_WAITING,
        )
        self._ready = True
        self.on_msg(self._on_message)

    # ------------------------------------------------------------------ construction from a result
    @classmethod
    def from_saliency(cls, saliency: Any, **kwargs: Any) -> "MaskOptimizationViewer":
        """A viewer of a finished result whose method recorded its masks per step.

        ``saliency.params["extras"]["mask_history"]``: (rows, T, h, w), one mask per row and
        recorded step (what ``xw.explain`` makes of a method's (K, B, T, h, w) extra), with
        the steps in ``extras["mask_steps"]`` (T,) (1..T when absent). The methods shipped
        today do not record it (it costs T maps of memory per row); stream them with
        :meth:`callback` instead. Other arguments are the constructor's.
        """
        from ..saliency.result import Saliency

        if not isinstance(saliency, Saliency):
            raise bad_argument("saliency", "a Saliency result (from xw.explain)", saliency)
        extras = saliency.params.get("extras", {}) if isinstance(saliency.params, dict) else {}
        history = extras.get("mask_history")
        if history is None:
            raise bad_argument(
                "saliency", "a result whose extras hold 'mask_history' (per-step masks)",
                _describe_result(saliency),
                "Stream the masks instead: viewer = MaskOptimizationViewer(model, images); "
                "xw.explain(..., callback=viewer.callback)",
            )
        history = np.asarray(history, dtype=np.float32)
        if history.ndim != 4 or history.shape[0] != len(saliency):
            raise bad_argument(
                "saliency.params['extras']['mask_history']", f"shape ({len(saliency)}, T, h, w): one mask per row and step",
                history,
            )
        t = history.shape[1]
        steps = np.asarray(extras.get("mask_steps", np.arange(1, t + 1)), dtype=np.int64).reshape(-1)
        if steps.shape != (t,) or (t and (steps.min() < 0 or np.any(np.diff(steps) <= 0))):
            raise bad_argument("saliency.params['extras']['mask_steps']", f"{t} increasing steps >= 0", steps)
        viewer = cls(_display=saliency.images, **kwargs)
        k = len(saliency) // saliency.num_images
        if k * saliency.num_images != len(saliency) or not np.array_equal(
            saliency.image_index, np.repeat(np.arange(saliency.num_images), k)
        ):
            raise bad_argument("saliency", "rows image-major, the same number per image (as xw.explain makes)", saliency.image_index)
        for j, s in enumerate(steps):
            masks = history[:, j].reshape(saliency.num_images, k, *history.shape[2:]).transpose(1, 0, 2, 3)
            viewer.callback(int(s), masks)
        viewer.finish(saliency)
        return viewer

    # ------------------------------------------------------------------ run state
    def _reset_run(self) -> None:
        self._record: _Record | None = None
        self._per_image = 0  # rows per image: K target passes x A areas
        self._areas = 1
        self._passes = 0
        self._chunk_start = 0  # first image of the batch being optimised
        self._chunk_images = 0
        self._last_step = -1
        self._seq = 0  # callbacks handled
        self._calls = 0  # callbacks of this run
        self._flushed_seq = -1
        self._result_info: dict[str, Any] = {}

    def reset(self) -> None:
        """Forget every frame (a new run starts on the next callback)."""
        self._reset_run()
        with self.hold_sync():
            self.rows = []
            self.frames = {}
            self.live = {}
            self.kept_steps = []
            self.row = 0
            self._set_step(0)
            self.follow = True
            self.status = _WAITING

    def _set_step(self, value: int) -> None:
        """Set ``step`` without turning ``follow`` off (the viewer's own bookkeeping)."""
        self._quiet = True
        try:
            self.step = value
        finally:
            self._quiet = False

    def _start_run(self, passes: int, areas: int, height: int, width: int, dtype: str) -> None:
        seq = self._seq
        self._reset_run()
        self._seq = seq
        self._passes, self._areas, self._per_image = passes, areas, passes * areas
        self._record = _Record(self.num_images * self._per_image, height, width, dtype, self.max_frames)
        rows = []
        for i in range(self.num_images):
            for k in range(passes):
                for a in range(areas):
                    label = f"Image {i}"
                    parts = ([f"target pass {k}"] if passes > 1 else []) + ([f"area {a}"] if areas > 1 else [])
                    rows.append({"image": i, "label": label, "detail": ", ".join(parts)})
        with self.hold_sync():
            self.rows = rows
            if not 0 <= self.row < len(rows):
                self.row = 0
            self._set_step(0)  # a new run: show it live
            self.follow = True

    # ------------------------------------------------------------------ the callback
    def callback(self, step: int, masks: Any, loss: Any = None) -> None:
        """Record the masks of one step and push them to the browser.

        The contract of every mask-optimisation method: ``callback(step, masks)`` with
        ``step`` the steps done and ``masks`` shaped (K, B, H, W) (target pass, image, input
        size) or (K, B, A, H, W) (extremal perturbation's areas), a tensor on any device or
        a numpy array. ``loss`` (optional; shape (K, B) or (K, B, A)) is shown with the step.

        Copies the masks to the host (one device synchronisation per call: pick
        ``callback_every`` accordingly).
        """
        if isinstance(step, bool) or not isinstance(step, numbers.Integral) or int(step) < 0:
            raise bad_argument("step", "an int >= 0 (the steps done)", step)
        step = int(step)
        values = _as_numpy(masks, "masks")
        if values.ndim not in (4, 5) or 0 in values.shape:
            raise bad_argument("masks", "shape (K, B, H, W) or (K, B, A, H, W) (target pass, image[, area], size)", values)
        if values.ndim == 4:
            values = values[:, :, None]
        k, b, a, h, w = values.shape
        if b > self.num_images:
            raise bad_argument("masks", f"at most {self.num_images} images (the viewer's) on axis 1", values)
        image_h, image_w = self._display[0].shape[:2]
        if abs(h / w - image_h / image_w) > 0.02 * (image_h / image_w):
            raise bad_argument(
                "masks", f"masks with the images' aspect ratio ({image_w}x{image_h})", values,
                "Pass the model to MaskOptimizationViewer(model, images) so the images are prepared as the model sees them",
            )
        losses = None
        if loss is not None:
            lv = _as_numpy(loss, "loss").astype(np.float32)
            if lv.shape == (k, b):
                lv = np.repeat(lv[:, :, None], a, axis=2)
            if lv.shape != (k, b, a):
                want = f"shape ({k}, {b})" + (f" or ({k}, {b}, {a})" if a > 1 else "")
                raise bad_argument("loss", f"None or {want}: one per target pass and image", lv)
            losses = lv.transpose(1, 0, 2).reshape(-1)

        rec = self._record
        new_run = rec is None or k * a != self._per_image or (h, w) != (rec.height, rec.width)
        start_image = 0
        if not new_run:
            if step <= self._last_step:  # the steps start again: the next batch of images
                start_image = self._chunk_start + self._chunk_images
                new_run = start_image + b > self.num_images
                start_image = 0 if new_run else start_image
            elif b != self._chunk_images:
                new_run = True
            else:
                start_image = self._chunk_start
        if new_run:
            finite = values[np.isfinite(values)]
            dtype = "float16" if float16_safe(finite) else "float32"
            self._start_run(k, a, h, w, dtype)
            rec = self._record
        assert rec is not None
        self._chunk_start, self._chunk_images, self._last_step = start_image, b, step
        self._seq += 1
        self._calls += 1

        block = values.transpose(1, 0, 2, 3, 4).reshape(b * k * a, h, w)  # rows image-major
        start = start_image * self._per_image
        kept = rec.add(step, start, block.astype(rec.dtype), losses)
        with self.hold_sync():
            self.live = {
                "seq": self._seq,
                "step": step,
                "start": start,
                "kept": kept,
                "masks": array_payload(block, rec.dtype),
                "losses": None if losses is None else array_payload(losses, "float32"),
            }
            self.kept_steps = rec.steps
            images = f"images {start_image}-{start_image + b - 1}" if b < self.num_images else "every image"
            self.status = (
                f"Optimising ({images}): step {step}, {self._calls} callback{'s' if self._calls != 1 else ''}, "
                f"{len(rec.masks)} frame{'s' if len(rec.masks) != 1 else ''} kept"
                + (f" (every {_ordinal(rec.stride)} recorded)" if rec.stride > 1 else "")
            )

    # ------------------------------------------------------------------ after the run
    def flush(self) -> None:
        """Sync the whole record (``frames``) to the browser: the state a newly opened
        view or a report starts from. Cheap when nothing changed since the last flush."""
        rec = self._record
        if rec is None or self._flushed_seq == self._seq:
            return
        steps = rec.steps
        masks = np.stack([rec.masks[s] for s in steps]) if steps else np.zeros((0, rec.rows, rec.height, rec.width))
        losses = np.stack([rec.losses[s] for s in steps]) if steps else np.zeros((0, rec.rows), np.float32)
        self.frames = {
            "seq": self._seq,
            "steps": steps,
            "masks": array_payload(masks, rec.dtype),
            "losses": array_payload(losses, "float32") if np.isfinite(losses).any() else None,
        }
        self._flushed_seq = self._seq

    def finish(self, result: Any = None) -> None:
        """The run is over: label the rows from the ``Saliency`` result (class names and
        probabilities), take the losses of the kept steps from its ``loss_history`` and its
        early stops from ``stopped_at`` (when the method records them), and flush."""
        if result is not None:
            self._apply_result(result)
        rec = self._record
        if rec is not None:
            n = len(rec.masks)
            text = f"{n} frame{'s' if n != 1 else ''} kept of {len(rec.ordinal)} recorded step{'s' if len(rec.ordinal) != 1 else ''}"
            if rec.stride > 1:
                text += f" (every {_ordinal(rec.stride)}, evenly subsampled: max_frames={self.max_frames})"
            method = self._result_info.get("method")
            iterations = self._result_info.get("iterations")
            head = f"{method}: " if method else "Done: "
            if iterations is not None:
                head += f"{iterations} iterations, "
            self.status = head + text
        else:
            self.status = "No masks were recorded: pass callback=viewer.callback to the mask optimisation."
        self.flush()

    def _apply_result(self, result: Any) -> None:
        from ..saliency.result import Saliency

        if not isinstance(result, Saliency):
            raise bad_argument("result", "a Saliency result (from xw.explain)", result)
        if result.num_images != self.num_images:
            raise bad_argument("result", f"a result for the viewer's {self.num_images} images", _describe_result(result))
        if len(result) % self.num_images:
            raise bad_argument("result", "the same number of rows per image", _describe_result(result))
        passes = len(result) // self.num_images
        if self._record is None:  # no callback came: rows from the result
            self._passes, self._areas, self._per_image = passes, 1, passes
        elif passes != self._passes:
            raise bad_argument(
                "result", f"{self._passes} target pass{'es' if self._passes != 1 else ''} per image, as the masks had",
                _describe_result(result),
            )
        extras = result.params.get("extras", {}) if isinstance(result.params, dict) else {}
        areas = extras.get("areas") if isinstance(extras.get("areas"), (list, tuple)) else None
        iterations = extras.get("iterations", result.params.get("iterations") if isinstance(result.params, dict) else None)
        stopped = extras.get("stopped_at")
        stopped = np.asarray(stopped).reshape(-1) if stopped is not None and np.size(stopped) == len(result) else None
        a = self._areas
        rows = []
        for i in range(self.num_images):
            for k in range(passes):
                r = i * passes + k
                target = int(result.targets[r])
                probability = float(result.probabilities[i][target]) if 0 <= target < result.probabilities.shape[1] else None
                label = f"Image {i}: {result.target_label(r)}" + (f" ({probability * 100:.1f}%)" if probability is not None else "")
                for j in range(a):
                    detail = []
                    if a > 1:
                        detail.append(f"area {areas[j]:g}" if areas is not None and j < len(areas) else f"area {j}")
                    if stopped is not None and iterations is not None and int(stopped[r]) < int(iterations):
                        detail.append(f"stopped early after {int(stopped[r])} steps")
                    rows.append({"image": i, "label": label, "detail": ", ".join(detail)})
        history = extras.get("loss_history")
        rec = self._record
        if rec is not None and history is not None:
            h = np.asarray(history, dtype=np.float32)
            h = h.reshape(len(result) * (h.shape[1] if h.ndim == 3 else 1), -1)  # rows x iterations
            if h.shape[0] == rec.rows:
                for s in rec.steps:
                    if 1 <= s <= h.shape[1]:
                        known = np.isfinite(rec.losses[s])
                        rec.losses[s] = np.where(known, rec.losses[s], h[:, s - 1])
                self._seq += 1  # the record changed: flush again
        self._result_info = {"method": result.method, "iterations": iterations}
        self.rows = rows
        if not 0 <= self.row < len(rows):
            self.row = 0

    def explain(self, method: str = "meaningful_perturbation", target: Any = "pred", **params: Any) -> Any:
        """``xw.explain`` of the viewer's model and images with :meth:`callback`, then
        :meth:`finish`; returns the ``Saliency``. Display the viewer before calling it."""
        from ..saliency import explain
        from ..saliency.registry import get_method

        if self._prepared is None:
            raise bad_argument(
                "model", "the viewer built with a model: MaskOptimizationViewer(model, images)", None,
            )
        spec = get_method(method)
        import dataclasses

        if "callback" not in {f.name for f in dataclasses.fields(spec.params)}:
            raise bad_argument("method", "a mask optimisation that takes a callback", method)
        if "callback" in params:
            raise bad_argument("callback", "no callback: the viewer passes its own", params["callback"])
        adapter, inputs = self._prepared
        self.reset()
        result = explain(adapter, inputs, method=method, target=target, callback=self.callback, **params)
        self.finish(result)
        return result

    # ------------------------------------------------------------------ access
    @property
    def steps(self) -> list[int]:
        """The steps kept, ascending."""
        return [] if self._record is None else self._record.steps

    @property
    def recorded(self) -> int:
        """How many distinct steps this run recorded (kept or not)."""
        return 0 if self._record is None else len(self._record.ordinal)

    @property
    def shown_step(self) -> int | None:
        """The step shown: the newest kept one while following, else :attr:`step`."""
        steps = self.steps
        if not steps:
            return None
        if self.follow:
            return self._last_step if self._last_step in steps else steps[-1]
        return self.step

    @property
    def memory_bytes(self) -> int:
        """Bytes the kept masks take in the kernel (the browser holds them as float32)."""
        return 0 if self._record is None else self._record.nbytes

    def mask(self, step: int | None = None, row: int | None = None) -> np.ndarray:
        """The (H, W) mask of ``row`` (default: the row shown) at ``step`` (default: the step
        shown), float32; NaN where that row was not optimised yet."""
        steps = self.steps
        if not steps:
            raise ValueError("mask: no frames recorded yet (pass callback=viewer.callback to a mask optimisation)")
        step = self.shown_step if step is None else step
        if step not in steps:
            raise bad_argument("step", f"a kept step ({steps[0]} to {steps[-1]}; see .steps)", step)
        row = self.row if row is None else check_int("row", row, 0, len(self.rows), "row position")
        assert self._record is not None
        return self._record.masks[step][row].astype(np.float32)

    def loss(self, step: int, row: int | None = None) -> float:
        """The loss of ``row`` at ``step`` (NaN when unknown)."""
        if step not in self.steps:
            raise bad_argument("step", "a kept step (see .steps)", step)
        assert self._record is not None
        return float(self._record.losses[step][self.row if row is None else row])

    # ------------------------------------------------------------------ front-end state checks
    @traitlets.validate("step")
    def _validate_step(self, proposal: Any) -> int:
        value = proposal["value"]
        steps = self.steps
        if not steps:
            if value != 0:
                raise traitlets.TraitError(f"step: expected 0 before any frame is recorded; got {describe(value)}")
            return value
        if not steps[0] <= value <= steps[-1]:
            raise traitlets.TraitError(f"step: expected a recorded step in [{steps[0]}, {steps[-1]}]; got {describe(value)}")
        if value in steps:
            return value
        return min(steps, key=lambda s: (abs(s - value), s))  # the nearest kept step

    @traitlets.observe("step")
    def _stop_following(self, change: Any) -> None:
        """A step set from Python stops following (the front end sends both together)."""
        if getattr(self, "_ready", False) and not self._quiet and "step" not in getattr(self, "_property_lock", {}):
            self.follow = False

    @traitlets.validate("row")
    def _validate_row(self, proposal: Any) -> int:
        value = proposal["value"]
        k = max(1, len(self.rows))
        if not 0 <= value < k:
            raise traitlets.TraitError(f"row: expected a row position in [0, {k}); got {describe(value)}")
        return value

    @traitlets.validate("opacity")
    def _validate_opacity(self, proposal: Any) -> float:
        return validated_opacity(proposal)

    @traitlets.validate("colormap", "value_range")
    def _validate_choice(self, proposal: Any) -> str:
        return validated_choice(proposal, {"colormap": COLORMAPS, "value_range": VALUE_RANGES})

    def _on_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        """A newly opened view whose ``frames`` are older than ``live`` asks for the record."""
        if isinstance(content, dict) and content.get("type") == "sync":
            self.flush()

    # ------------------------------------------------------------------ reports, repr
    def report_state(self) -> dict[str, Any]:
        """The whole record in ``frames`` (flushed first); ``live`` is left out (a report
        does not stream, and its masks are in ``frames``)."""
        self.flush()
        state = super().report_state()
        state["live"] = {}
        return state

    def _repr_fields(self) -> Iterable[tuple[str, Any]]:
        yield "images", self.num_images
        yield "rows", len(self.rows)
        steps = self.steps
        yield "frames", len(steps)
        if steps:
            yield "steps", f"{steps[0]}..{steps[-1]}"
        yield "shown_step", self.shown_step
        yield "row", self.row
        yield "colormap", self.colormap
        yield "opacity", self.opacity
        if self.value_range != "unit":
            yield "value_range", self.value_range


def _describe_result(saliency: Any) -> Described:
    """How error messages describe a Saliency result (not its arrays)."""
    return Described(f"a {saliency.method!r} result with {saliency.num_images} image(s) and {len(saliency)} row(s)")
