"""The daily sync: one hospital's batch as a sequence of stages, and the run around them."""
