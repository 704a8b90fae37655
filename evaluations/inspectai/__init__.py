"""Everything that knows inspect-ai: the built-in tasks, the catalogue of installed tasks, dataset parsing and the
model factory. Imports inspect_ai lazily where a module is loaded at start-up."""
