"""Building the DRAIN model: gold step annotations, chat datasets, LoRA training and GGUF export."""
