#pragma once
// A sweep's outputs (docs/sweep.md): results.csv and results.json (one row per point, in sweep order),
// gnuplot plots in PNG and SVG (accuracy against cost with the Pareto front; accuracy against each
// numeric axis; per-layer SQNR of the best point), and report.md + report.html linking them.

#include <string>
#include <vector>

#include "sweep/run.hpp"
#include "sweep/spec.hpp"

namespace chipref::sweep {

// Indices (into `results`) of the points no other point beats on both cost (lower) and top-1 (higher);
// ordered by cost. Failed points take no part.
std::vector<size_t> pareto_front(const std::vector<PointResult>& results);

std::string results_csv(const SweepSpec& spec, const std::vector<PointResult>& results);

// Writes every output into `dir` (points sorted by index). Plots need gnuplot on PATH; without it they
// are skipped and the report says so.
// With `analyses`: sensitivity.csv + sensitivity.{png,svg}, search.csv + search_config.yaml, and their
// report sections.
void write_outputs(const SweepSpec& spec, std::vector<PointResult> results, const std::string& dir,
                   const Analyses& analyses = {});

}  // namespace chipref::sweep
