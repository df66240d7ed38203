"""The vLLM dev wheels of the PyTorch nightly index: ``<nightly>/<cuda>/vllm/``, dated like torch.

PyTorch's CI builds vLLM against each torch nightly and publishes it beside torch
(pytorch/pytorch #162000, test-infra #7114), versioned ``X.Y.Z.devYYYYMMDD+<variant>`` with
torch's date, for the CUDA variants it builds (cu130, cu132). The same listing and date
rules as torch apply (``nightly.listing``): ``latest~N`` counts dates present on the index.
"""

from __future__ import annotations

from vllm_matrix.matrix.specs import parse_torch
from vllm_matrix.nightly.client import IndexClient
from vllm_matrix.nightly.errors import NightlyMissing
from vllm_matrix.nightly.listing import NightlyWheel, list_nightlies
from vllm_matrix.nightly.resolve import select


def resolve(
    spec: str, cuda: str, python: str, platform: str, index_url: str, client: IndexClient
) -> NightlyWheel:
    """The vLLM dev wheel ``spec`` (latest, latest~N, YYYY-MM-DD) names for ``cuda``."""
    listing = list_nightlies(cuda, python, index_url, package="vllm", platform=platform, client=client)
    dated = listing.nightlies()
    if not dated:
        raise NightlyMissing(
            f"{cuda} lists no vLLM dev wheel for Python {python} on {platform} ({listing.page_url})"
        )
    return select(parse_torch(f"nightly:{spec}"), dated, cuda)
