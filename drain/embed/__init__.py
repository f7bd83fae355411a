"""Sentence embeddings: all-MiniLM-L6-v2 from its PyPI wheel, written once as a BERT GGUF and run by llama.cpp."""

from drain.embed.encoder import DIMENSION, Embedder, default_embedder, embedding_model_path

__all__ = ["DIMENSION", "Embedder", "default_embedder", "embedding_model_path"]
