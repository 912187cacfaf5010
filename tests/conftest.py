import os

import pytest
import torch

os.environ.setdefault("MPLBACKEND", "Agg")
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session")
def effnet():
    from xwidgets.models import efficientnet_lite0

    return efficientnet_lite0()


@pytest.fixture(scope="session")
def photos():
    from xwidgets.data import sample_images

    return sample_images()
