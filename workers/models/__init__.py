"""Segmentation models: the registry (models as data) and onnxruntime session handling."""
