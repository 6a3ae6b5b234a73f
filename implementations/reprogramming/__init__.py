"""Model reprogramming: learned input-space programs and output label mappings."""
