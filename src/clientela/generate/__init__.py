"""A realistic sample retailer: daily files that exercise the importer and identity resolution."""

from clientela.generate.retailer import generate_retailer
from clientela.generate.summary import GenerationSummary

__all__ = ["GenerationSummary", "generate_retailer"]
