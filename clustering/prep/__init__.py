"""Preparation: DFU features from monthly sales, preprocessing, and dimension reduction."""
