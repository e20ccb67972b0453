"""Measuring: metrics, evaluate, plots, the HTML report and the speed benchmarks."""
