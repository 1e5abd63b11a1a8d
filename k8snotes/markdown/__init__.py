"""From a page to its ordered code blocks; knows nothing of clusters."""

from k8snotes.markdown.blocks import Block, PageError
from k8snotes.markdown.parse import parse_page

__all__ = ["Block", "PageError", "parse_page"]
