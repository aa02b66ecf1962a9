"""How a network is called: the extra inputs it declares beside its batch.

A net declares what it takes in `conditioning` (a subset of {"labels", "condition_image"});
the loop, the evaluation and tricks call every net through `call_net`, which passes the class
labels and/or the paired input image (pix2pix's condition: the real batch) only to nets that
take them.
"""

from __future__ import annotations

from torch import Tensor, nn


def conditioning(net: nn.Module) -> frozenset[str]:
    """The extra inputs `net` takes besides its batch: "labels" and/or "condition_image"."""
    return frozenset(getattr(net, "conditioning", frozenset()))


def call_net(
    net: nn.Module,
    x: Tensor,
    labels: Tensor | None = None,
    condition_image: Tensor | None = None,
) -> Tensor:
    """`net(x)`, passing class labels and the paired input images to nets that take them."""
    extra = {"labels": labels, "condition_image": condition_image}
    return net(x, **{name: extra[name] for name in sorted(conditioning(net))})
