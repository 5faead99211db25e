"""`python -m bench` (`make bench`): every benchmark, each writing its section of docs/BENCHMARKS.md."""

from bench import bench_app, bench_audio, bench_model, bench_projection

for benchmark in (bench_audio, bench_model, bench_projection, bench_app):
    benchmark.main(["--write"])
