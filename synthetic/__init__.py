"""Synthetic Health Link data: hospital registry, 43-file extracts and consent registrations."""

from synthetic.generate import generate_dataset

__all__ = ["generate_dataset"]
