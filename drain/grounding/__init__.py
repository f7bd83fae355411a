"""Grounded solving: the house library read by meaning (vectors) to find families, causes, hazards and fixes."""
