"""Interface adapters for model families (transformers; plain torch modules use interfaces.ModuleAdapter)."""
