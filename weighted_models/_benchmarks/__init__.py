"""The benchmarks behind `weighted-models bench` (not public API).

Each module has a `main(argv)`; `weighted-models bench NAME [options]` runs
one, `weighted-models bench` runs them all. Results go to `benchmarks/results`
under the working directory unless `--out` says otherwise.
"""
