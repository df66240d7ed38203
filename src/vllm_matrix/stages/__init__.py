"""The stages of a cell, one module each, in order; see ``stages.base`` for the interface."""
