"""Built-in datasets (natural-looking synthetic images and panning clips) for the demo, benchmarks and tests."""
