"""Write one benchmark's section of bench/RESULTS.md, leaving the others alone."""

from __future__ import annotations

import pathlib
import platform

import torch

RESULTS = pathlib.Path(__file__).with_name("RESULTS.md")


def machine() -> str:
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)}, torch {torch.__version__}"
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads), torch {torch.__version__}"


def write_section(name: str, body: str) -> None:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\nEach section is written by the script it names; numbers come from one run on the machine stated.\n"
    block = f"{start}\n{body.rstrip()}\n{end}"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    RESULTS.write_text(text)


def model_layout(rows: torch.Tensor) -> torch.Tensor:
    """``rows`` contiguous in the memory layout ``ModelAdapter.logits`` feeds the model
    (channels-last for 4-D CPU inputs), so a limit's timed passes make no layout copy that
    the methods, which build their rows in that layout, do not make either."""
    if rows.ndim == 4 and rows.device.type == "cpu":
        return rows.contiguous(memory_format=torch.channels_last)
    return rows.contiguous()
