"""DALI graph definitions, one module per BasicSR dataset `type:`, and their registry."""
from .registry import PipelineSpec, get_pipeline, pipeline_types

__all__ = ["PipelineSpec", "get_pipeline", "pipeline_types"]
