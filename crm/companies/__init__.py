"""Investors (投资方 / 客商): the company records projects and visits point to."""
