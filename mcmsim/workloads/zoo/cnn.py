"""Convolutional networks of the zoo: ResNet-50, GoogLeNet, MobileNetV2 and U-Net.

Each builder lays out the operator graph of the published architecture: every
convolution, batch normalisation, activation, pooling and residual addition is its own
layer, so the DAG has the same shape as the framework's graph. Concatenation costs no
arithmetic and moves no data beyond what its producers already wrote, so it is not a
layer: a layer consuming a concatenation simply lists every producer as an input.

Where a framework's definition differs from the paper's, the builder follows the
framework whose published parameter and MAC counts it matches (stated per builder),
because those are the networks that are actually deployed and profiled.
"""

from __future__ import annotations

from mcmsim.workloads.builders import conv2d, elementwise, matmul, norm, pool
from mcmsim.workloads.layer import Layer, OpKind
from mcmsim.workloads.model import Model, ModelBuilder
from mcmsim.workloads.zoo import register

__all__ = ["googlenet", "mobilenet_v2", "resnet50", "unet"]

#: Classes of the ImageNet classifiers' final layer.
IMAGENET_CLASSES = 1000

#: Clip, compare and select: ReLU6 costs two comparisons per element.
_RELU6_OPS = 2


class _ConvNet:
    """Adds layers to a :class:`ModelBuilder` while tracking the feature-map shape.

    Parameters
    ----------
    builder : ModelBuilder
        Receives the layers.
    channels, size : int
        Shape of the model input (square feature maps).
    """

    def __init__(self, builder: ModelBuilder, channels: int, size: int) -> None:
        self.builder = builder
        self.channels = channels
        self.size = size

    @property
    def elems(self) -> int:
        return self.channels * self.size * self.size

    def conv(
        self,
        name: str,
        c_out: int,
        kernel: int,
        stride: int = 1,
        *,
        pad: int | None = None,
        groups: int = 1,
        bias: bool = False,
        inputs: list[str] | None = None,
    ) -> str:
        """A convolution, 'same'-padded (``kernel // 2``) unless ``pad`` is given."""
        layer = conv2d(
            name,
            self.channels,
            c_out,
            self.size,
            self.size,
            kernel,
            stride,
            kernel // 2 if pad is None else pad,
            groups=groups,
            bias=bias,
        )
        self.channels, self.size = c_out, layer.p
        return self.builder.add(layer, inputs)

    def bn(self, name: str) -> str:
        """Batch normalisation with its affine scale and shift (``2 * C`` parameters)."""
        return self.builder.add(norm(name, self.elems, self.channels))

    def act(self, name: str, ops_per_elem: int = 1) -> str:
        return self.builder.add(elementwise(name, self.elems, ops_per_elem=ops_per_elem))

    def add(self, name: str, inputs: list[str]) -> str:
        """Residual addition of two same-shaped tensors."""
        return self.builder.add(elementwise(name, self.elems, inputs=2), inputs)

    def maxpool(
        self,
        name: str,
        kernel: int,
        stride: int,
        pad: int = 0,
        *,
        ceil_mode: bool = False,
        inputs: list[str] | None = None,
    ) -> str:
        if not ceil_mode:
            layer = pool(name, self.channels, self.size, self.size, kernel, stride, pad)
        else:
            # Caffe-style rounding up (torchvision GoogLeNet); ``pool`` only rounds down.
            out = -(-(self.size + 2 * pad - kernel) // stride) + 1
            layer = Layer(
                name=name,
                op=OpKind.POOL,
                g=self.channels,
                p=out,
                q=out,
                r=kernel,
                s=kernel,
                stride=stride,
                input_elems=self.elems,
                output_elems=self.channels * out * out,
                vector_ops=self.channels * out * out * kernel * kernel,
            )
        self.size = layer.p
        return self.builder.add(layer, inputs)

    def global_avgpool(self, name: str, inputs: list[str] | None = None) -> str:
        layer = pool(name, self.channels, self.size, self.size, self.size, self.size)
        self.size = 1
        return self.builder.add(layer, inputs)

    def fc(self, name: str, n_out: int) -> str:
        """The classifier: a linear layer with bias on the pooled feature vector."""
        layer = matmul(name, 1, self.channels, n_out, bias=True)
        self.channels = n_out
        return self.builder.add(layer)

    def conv_transpose2x2(self, name: str, c_out: int) -> str:
        """A 2x2, stride-2 transposed convolution with bias (U-Net's up-convolution).

        Every input pixel scatters into its own 2x2 output block, so the loop nest is
        the convolution's with ``P, Q`` over the input and ``R = S = 2``.
        """
        weights = self.channels * c_out * 4 + c_out
        layer = Layer(
            name=name,
            op=OpKind.CONV2D,
            k=c_out,
            c=self.channels,
            p=self.size,
            q=self.size,
            r=2,
            s=2,
            weight_elems=weights,
            param_elems=weights,
            input_elems=self.elems,
            output_elems=c_out * (2 * self.size) ** 2,
        )
        self.channels, self.size = c_out, 2 * self.size
        return self.builder.add(layer)


@register("resnet50", "ResNet-50 v1.5 (torchvision), ImageNet classifier", image_size=224)
def resnet50(image_size: int) -> Model:
    """ResNet-50 (He et al., 2016) as defined by torchvision (v1.5).

    Bottleneck blocks ``[3, 4, 6, 3]`` with the stride on the 3x3 convolution (v1.5;
    the paper's v1 strides the first 1x1 and needs 3.86 G MACs, its Table 1 "3.8 x 10^9
    FLOPs"); convolutions have no bias and are followed by batch normalisation.
    At 224x224: 4.09 G MACs and 25,557,032 parameters (torchvision model table; the
    count includes the batch-norm scale and shift).

    Parameters
    ----------
    image_size : int
        Height and width of the RGB input.

    Returns
    -------
    Model
    """
    builder = ModelBuilder("resnet50", 3 * image_size**2)
    net = _ConvNet(builder, 3, image_size)
    net.conv("conv1", 64, 7, 2)
    net.bn("bn1")
    net.act("relu")
    net.maxpool("maxpool", 3, 2, 1)
    for stage, (width, blocks, stride) in enumerate(
        [(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)], start=1
    ):
        for block in range(blocks):
            prefix = f"layer{stage}.{block}"
            block_input = builder.last
            in_channels, in_size = net.channels, net.size
            block_stride = stride if block == 0 else 1
            net.conv(f"{prefix}.conv1", width, 1)
            net.bn(f"{prefix}.bn1")
            net.act(f"{prefix}.relu1")
            net.conv(f"{prefix}.conv2", width, 3, block_stride)
            net.bn(f"{prefix}.bn2")
            net.act(f"{prefix}.relu2")
            net.conv(f"{prefix}.conv3", 4 * width, 1)
            main = net.bn(f"{prefix}.bn3")
            shortcut = block_input
            if block == 0:
                # Projection shortcut where the shape changes (option B of the paper).
                out_channels = net.channels
                net.channels, net.size = in_channels, in_size
                net.conv(
                    f"{prefix}.downsample.0", out_channels, 1, block_stride, inputs=[block_input]
                )
                shortcut = net.bn(f"{prefix}.downsample.1")
            net.add(f"{prefix}.add", [main, shortcut])
            net.act(f"{prefix}.relu3")
    net.global_avgpool("avgpool")
    net.fc("fc", IMAGENET_CLASSES)
    return builder.build()


#: GoogLeNet inception modules: name, 1x1, 3x3 reduce, 3x3, "5x5" reduce, "5x5", pool proj
#: (Szegedy et al., 2015, Table 1).
_INCEPTION = {
    "3": [("3a", 64, 96, 128, 16, 32, 32), ("3b", 128, 128, 192, 32, 96, 64)],
    "4": [
        ("4a", 192, 96, 208, 16, 48, 64),
        ("4b", 160, 112, 224, 24, 64, 64),
        ("4c", 128, 128, 256, 24, 64, 64),
        ("4d", 112, 144, 288, 32, 64, 64),
        ("4e", 256, 160, 320, 32, 128, 128),
    ],
    "5": [("5a", 256, 160, 320, 32, 128, 128), ("5b", 384, 192, 384, 48, 128, 128)],
}


@register("googlenet", "GoogLeNet / Inception v1 (torchvision)", image_size=224)
def googlenet(image_size: int) -> Model:
    """GoogLeNet (Szegedy et al., 2015) as defined by torchvision, without auxiliary heads.

    The module widths are the paper's (Table 1). Like torchvision (ported from TF-slim)
    every convolution is followed by batch normalisation instead of local response
    normalisation, and the "5x5" branch uses a 3x3 kernel. At 224x224: 1.50 G MACs and
    6,624,904 parameters (torchvision model table). The paper's own variant, with 5x5
    kernels and no batch normalisation, has 6.8 M parameters.

    Parameters
    ----------
    image_size : int
        Height and width of the RGB input.

    Returns
    -------
    Model
    """
    builder = ModelBuilder("googlenet", 3 * image_size**2)
    net = _ConvNet(builder, 3, image_size)

    def basic_conv(
        name: str, c_out: int, kernel: int, stride: int = 1, inputs: list[str] | None = None
    ) -> str:
        net.conv(f"{name}.conv", c_out, kernel, stride, inputs=inputs)
        net.bn(f"{name}.bn")
        return net.act(f"{name}.relu")

    basic_conv("conv1", 64, 7, 2)
    net.maxpool("maxpool1", 3, 2, ceil_mode=True)
    basic_conv("conv2", 64, 1)
    basic_conv("conv3", 192, 3)
    outputs = [net.maxpool("maxpool2", 3, 2, ceil_mode=True)]
    for stage, modules in _INCEPTION.items():
        if stage != "3":
            # torchvision's maxpool3 is 3x3, its maxpool4 2x2; both halve the map.
            kernel = 3 if stage == "4" else 2
            index = int(stage) - 1
            outputs = [net.maxpool(f"maxpool{index}", kernel, 2, ceil_mode=True, inputs=outputs)]
        for name, n1, n3r, n3, n5r, n5, npool in modules:
            prefix = f"inception{name}"
            in_channels = net.channels
            branches = [basic_conv(f"{prefix}.branch1", n1, 1, inputs=outputs)]
            for branch, reduce, width in [(2, n3r, n3), (3, n5r, n5)]:
                net.channels = in_channels
                basic_conv(f"{prefix}.branch{branch}.0", reduce, 1, inputs=outputs)
                branches.append(basic_conv(f"{prefix}.branch{branch}.1", width, 3))
            net.channels = in_channels
            net.maxpool(f"{prefix}.branch4.0", 3, 1, 1, ceil_mode=True, inputs=outputs)
            branches.append(basic_conv(f"{prefix}.branch4.1", npool, 1))
            outputs = branches
            net.channels = n1 + n3 + n5 + npool
    net.global_avgpool("avgpool", inputs=outputs)
    net.fc("fc", IMAGENET_CLASSES)
    return builder.build()


#: MobileNetV2 bottleneck stages: expansion t, output channels c, repeats n, stride s
#: (Sandler et al., 2018, Table 2).
_MOBILENET_V2_STAGES = [
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
]


@register("mobilenet-v2", "MobileNetV2, width 1.0 (torchvision)", image_size=224)
def mobilenet_v2(image_size: int) -> Model:
    """MobileNetV2 (Sandler et al., 2018) at width multiplier 1.0, as in torchvision.

    Inverted residual blocks: 1x1 expansion, 3x3 depthwise, linear 1x1 projection, each
    with batch normalisation and ReLU6 after the first two; a residual addition when
    stride and width are unchanged. At 224x224: 300 M MACs (paper, Table 4) and
    3,504,872 parameters (torchvision model table; the paper rounds to 3.4 M).

    Parameters
    ----------
    image_size : int
        Height and width of the RGB input.

    Returns
    -------
    Model
    """
    builder = ModelBuilder("mobilenet-v2", 3 * image_size**2)
    net = _ConvNet(builder, 3, image_size)
    net.conv("features.0.conv", 32, 3, 2)
    net.bn("features.0.bn")
    net.act("features.0.relu6", _RELU6_OPS)
    index = 1
    for expansion, c_out, repeats, first_stride in _MOBILENET_V2_STAGES:
        for repeat in range(repeats):
            prefix = f"features.{index}"
            stride = first_stride if repeat == 0 else 1
            block_input = builder.last
            residual = stride == 1 and net.channels == c_out
            hidden = net.channels * expansion
            if expansion != 1:
                net.conv(f"{prefix}.expand", hidden, 1)
                net.bn(f"{prefix}.expand.bn")
                net.act(f"{prefix}.expand.relu6", _RELU6_OPS)
            net.conv(f"{prefix}.dwconv", hidden, 3, stride, groups=hidden)
            net.bn(f"{prefix}.dwconv.bn")
            net.act(f"{prefix}.dwconv.relu6", _RELU6_OPS)
            net.conv(f"{prefix}.project", c_out, 1)
            projected = net.bn(f"{prefix}.project.bn")
            if residual:
                net.add(f"{prefix}.add", [projected, block_input])
            index += 1
    net.conv(f"features.{index}.conv", 1280, 1)
    net.bn(f"features.{index}.bn")
    net.act(f"features.{index}.relu6", _RELU6_OPS)
    net.global_avgpool("avgpool")
    net.fc("classifier", IMAGENET_CLASSES)
    return builder.build()


#: U-Net encoder widths, from the first level down to the bottleneck (Ronneberger et al., 2015).
_UNET_WIDTHS = [64, 128, 256, 512, 1024]


@register(
    "unet",
    "U-Net (Ronneberger 2015), 'same' padding, 1-channel input, 2 classes",
    image_size=512,
    in_channels=1,
    classes=2,
)
def unet(image_size: int, in_channels: int, classes: int) -> Model:
    """The original U-Net (Ronneberger et al., 2015) with 'same'-padded convolutions.

    Four encoder levels of two 3x3 convolutions (with bias, ReLU) and 2x2 max pooling,
    a 1024-channel bottleneck, and four decoder levels of a 2x2 up-convolution, a
    concatenation with the encoder's skip connection and two 3x3 convolutions; a final
    1x1 convolution gives the class scores. 'Same' padding (instead of the paper's
    unpadded convolutions) keeps the output at the input size, as in the reference
    scenarios. At 512x512, 1 input channel and 2 classes: 31,030,658 parameters (the
    paper's network, about 31.0 M) and 192.4 G MACs.

    Parameters
    ----------
    image_size : int
        Height and width of the input; divisible by 16 so the skips line up.
    in_channels : int
        Input channels (1 for the paper's grey-scale microscopy images).
    classes : int
        Output channels of the final 1x1 convolution.

    Returns
    -------
    Model

    Raises
    ------
    ValueError
        If ``image_size`` is not a multiple of 16.
    """
    if image_size % 16:
        raise ValueError(f"unet: image_size {image_size} must be a multiple of 16")
    builder = ModelBuilder("unet", in_channels * image_size**2)
    net = _ConvNet(builder, in_channels, image_size)

    def double_conv(prefix: str, c_out: int, inputs: list[str] | None = None) -> str:
        net.conv(f"{prefix}.conv1", c_out, 3, bias=True, inputs=inputs)
        net.act(f"{prefix}.relu1")
        net.conv(f"{prefix}.conv2", c_out, 3, bias=True)
        return net.act(f"{prefix}.relu2")

    skips: list[tuple[str, int]] = []
    for level, width in enumerate(_UNET_WIDTHS[:-1], start=1):
        skips.append((double_conv(f"down{level}", width), width))
        net.maxpool(f"down{level}.pool", 2, 2)
    double_conv("bottleneck", _UNET_WIDTHS[-1])
    for level, (skip, width) in zip(range(4, 0, -1), reversed(skips), strict=True):
        up = net.conv_transpose2x2(f"up{level}.upconv", width)
        net.channels += width  # the concatenation with the skip connection
        double_conv(f"up{level}", width, inputs=[skip, up])
    net.conv("head", classes, 1, bias=True)
    return builder.build()
