"""vllm-matrix: does vLLM build and run against this torch nightly, on this GPU?"""

__version__ = "0.1.0"
