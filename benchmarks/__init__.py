"""Per-stage and end-to-end throughput benchmarks: `python -m benchmarks.<stage> [--quick]`."""
