"""Models: clustering algorithms, k selection, density clustering, quality metrics and stability."""
