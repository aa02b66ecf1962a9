"""Batch composition: D sees real and fake samples in one mixed batch instead of two."""

from __future__ import annotations

from bench.tricks.registry import Trick, register


@register
class MixedBatches(Trick):
    """Show D one batch holding the real and the fake samples, not two separate batches.

    ganhacks (Chintala et al. 2016), tip 4: "construct different mini-batches for real and
    fake, i.e. each mini-batch needs to contain only all real images or all generated images"
    (the default here, as in DCGAN). This trick ablates the rule: with BatchNorm in D, real
    and fake samples then share one set of batch statistics.
    """

    name = "mixed_batches"
    family = "normalization"
    citation = "ganhacks (Chintala et al. 2016), tip 4: separate real and fake batches (ablated)"
    mixes_d_batches = True
    capturable = True
