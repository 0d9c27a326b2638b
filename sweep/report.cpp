#include "sweep/report.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <thread>

#include "core/files.hpp"
#include "core/process.hpp"

namespace fs = std::filesystem;

namespace chipref::sweep {

namespace {

std::string db(double v) { return std::isfinite(v) ? fmt::format("{:.1f}", v) : "inf"; }

// A document written once as Markdown and once as HTML.
class Report {
 public:
  void heading(const std::string& text) {
    md_ += "\n## " + text + "\n\n";
    html_ += "<h2>" + escape(text) + "</h2>\n";
  }
  void paragraph(const std::string& text) {
    md_ += text + "\n\n";
    html_ += "<p>" + escape(text) + "</p>\n";
  }
  void image(const std::string& file, const std::string& alt) {
    md_ += "![" + alt + "](" + file + ")\n\n";
    html_ += "<p><img src=\"" + file + "\" alt=\"" + escape(alt) + "\"></p>\n";
  }
  void table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
    auto md_row = [](const std::vector<std::string>& cells) {
      std::string s = "|";
      for (const auto& c : cells) s += " " + c + " |";
      return s + "\n";
    };
    md_ += md_row(header) + md_row(std::vector<std::string>(header.size(), "---"));
    html_ += "<table>\n<tr>";
    for (const auto& h : header) html_ += "<th>" + escape(h) + "</th>";
    html_ += "</tr>\n";
    for (const auto& r : rows) {
      md_ += md_row(r);
      html_ += "<tr>";
      for (const auto& c : r) html_ += "<td>" + escape(c) + "</td>";
      html_ += "</tr>\n";
    }
    md_ += "\n";
    html_ += "</table>\n";
  }
  std::string markdown(const std::string& title) const { return "# " + title + "\n" + md_; }
  std::string html(const std::string& title) const {
    return "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + escape(title) +
           "</title>\n<style>body{font-family:sans-serif;max-width:70em;margin:auto}table{border-collapse:collapse}"
           "td,th{border:1px solid #bbb;padding:2px "
           "6px;text-align:right}img{max-width:100%}</style></head><body>\n<h1>" +
           escape(title) + "</h1>\n" + html_ + "</body></html>\n";
  }

 private:
  static std::string escape(const std::string& s) {
    std::string out;
    for (char c : s)
      out += c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;" : c == '"' ? "&quot;" : std::string(1, c);
    return out;
  }
  std::string md_, html_;
};

bool have_gnuplot() { return std::system("command -v gnuplot >/dev/null 2>&1") == 0; }

// The report's plots, each drawn as NAME.png and NAME.svg. They are drawn together at the end: one
// gnuplot process per terminal, side by side, each running every plot's script in turn (a script starts
// with `reset`, so no setting leaks from one plot into the next).
class Plots {
 public:
  explicit Plots(std::string dir) : dir_(std::move(dir)) {}
  void add(const std::string& name, const std::string& body) { plots_.emplace_back(name, body); }

  // Labels are printed literally (noenhanced: "weight_bits" is not "weight" with a subscript b). A
  // plot that gnuplot could not draw completely (its exit status, an empty file, an SVG without its
  // closing tag: a full disk) is an InputError naming the file, with gnuplot's first message: the
  // report is then not complete, and no completion marker may follow it.
  void draw() const {
    if (plots_.empty()) return;
    const std::vector<std::pair<std::string, std::string>> terminals = {{"pngcairo noenhanced size 900,600", "png"},
                                                                        {"svg noenhanced size 900,600", "svg"}};
    std::vector<std::thread> processes;
    std::vector<int> status(terminals.size(), 0);
    for (size_t t = 0; t < terminals.size(); ++t) {
      const auto& [terminal, ext] = terminals[t];
      std::string script;
      for (const auto& [name, body] : plots_)
        script +=
            "reset\nset terminal " + terminal + "\nset output '" + name + "." + ext + "'\n" + body + "unset output\n";
      write_file_atomically((fs::path(dir_) / ("plots." + ext + ".gp")).string(), script);
      processes.emplace_back([this, ext = ext, &result = status[t]] {
        result = run_shell_tied_to_caller("cd " + shell_quote(dir_) + " && exec gnuplot plots." + ext +
                                          ".gp >gnuplot." + ext + ".log 2>&1");
      });
    }
    for (std::thread& p : processes) p.join();
    std::string failure;
    for (size_t t = 0; t < terminals.size(); ++t) {
      const std::string ext = terminals[t].second;
      const fs::path log = fs::path(dir_) / ("gnuplot." + ext + ".log");
      std::error_code error;
      std::string first_message;
      if (is_existing_file(log)) {
        std::istringstream lines(read_file_bytes(log.string()));
        for (std::string line; first_message.empty() && std::getline(lines, line);)
          if (line.find_first_not_of(" \t^") != std::string::npos) first_message = line;
      }
      fs::remove(fs::path(dir_) / ("plots." + ext + ".gp"), error);
      fs::remove(log, error);
      for (const auto& [name, body] : plots_) {
        const fs::path file = fs::path(dir_) / (name + "." + ext);
        const std::string problem = !is_existing_file(file)           ? "not written"
                                    : fs::file_size(file, error) == 0 ? "empty"
                                    : ext == "svg" && read_file_bytes(file.string()).find("</svg>") == std::string::npos
                                        ? "truncated (no closing </svg>)"
                                        : "";
        if (failure.empty() && (!problem.empty() || status[t] != 0))
          failure = fmt::format("{}: gnuplot {}{}{}", file.string(), problem.empty() ? "failed" : "left it " + problem,
                                status[t] != 0 ? fmt::format(" (exit status {})", status[t]) : "",
                                first_message.empty() ? "" : ": " + first_message);
      }
    }
    if (!failure.empty()) throw InputError(failure);
  }

 private:
  std::string dir_;
  std::vector<std::pair<std::string, std::string>> plots_;
};

}  // namespace

// The sweep's accuracy axis in titles, headings and table heads.
std::string metric_label(const SweepSpec& spec) { return metric_label(spec.metric); }

std::vector<size_t> pareto_front(const std::vector<PointResult>& results) {
  std::vector<size_t> front;
  for (size_t i = 0; i < results.size(); ++i) {
    if (!results[i].error.empty()) continue;
    bool dominated = false;
    for (size_t j = 0; j < results.size() && !dominated; ++j) {
      if (j == i || !results[j].error.empty()) continue;
      const bool no_worse = results[j].cost <= results[i].cost && results[j].accuracy() >= results[i].accuracy();
      const bool better = results[j].cost < results[i].cost || results[j].accuracy() > results[i].accuracy();
      dominated = no_worse && better;
    }
    if (!dominated) front.push_back(i);
  }
  std::sort(front.begin(), front.end(), [&](size_t a, size_t b) {
    return std::tie(results[a].cost, results[a].index) < std::tie(results[b].cost, results[b].index);
  });
  return front;
}

std::string results_csv(const SweepSpec& spec, const std::vector<PointResult>& results) {
  const std::vector<size_t> front = pareto_front(results);
  std::string csv = "index,id";
  for (const Axis& a : spec.axes) csv += "," + a.name;
  csv += "," + spec.metric + ",correct,count,cost,macs,weight_memory_bits,overflow_events,min_sqnr_db,pareto,error\n";
  for (size_t i = 0; i < results.size(); ++i) {
    const PointResult& r = results[i];
    csv += fmt::format("{},{}", r.index, r.id);
    for (const std::string& v : r.values) csv += "," + v;
    std::string error = r.error;
    std::replace(error.begin(), error.end(), '"', '\'');
    csv += fmt::format(",{:.4f},{},{},{:.0f},{},{},{},{},{},\"{}\"\n", r.accuracy(),
                       r.metric == "top5" ? r.top5_correct : r.correct, r.count, r.cost, r.macs, r.weight_memory_bits,
                       r.overflow_events, db(r.min_sqnr_db), std::count(front.begin(), front.end(), i) ? 1 : 0, error);
  }
  return csv;
}

void write_outputs(const SweepSpec& spec, std::vector<PointResult> results, const std::string& dir,
                   const Analyses& analyses) {
  std::sort(results.begin(), results.end(),
            [](const PointResult& a, const PointResult& b) { return a.index < b.index; });
  fs::create_directories(dir);
  write_file_atomically((fs::path(dir) / "results.csv").string(), results_csv(spec, results));
  nlohmann::json all = nlohmann::json::array();
  for (const PointResult& r : results) all.push_back(nlohmann::json::parse(result_json(r)));
  nlohmann::json axes = nlohmann::json::array();
  for (const Axis& a : spec.axes)
    axes.push_back({{"name", a.name}, {"key", a.key}, {"layers", a.layers}, {"values", a.values}});
  write_file_atomically(
      (fs::path(dir) / "results.json").string(),
      nlohmann::json{{"sweep", spec.path}, {"model", spec.model}, {"base", spec.base}, {"axes", axes}, {"points", all}}
              .dump(1) +
          "\n");

  const std::vector<size_t> front = pareto_front(results);
  Report report;
  const std::string title = "Sweep " + fs::path(spec.path).filename().string();
  report.paragraph(
      fmt::format("Model `{}`, base config `{}`, {} points ({} sampling), {} evaluation images each; per-layer SQNR on "
                  "the first {}. "
                  "Cost = Σ over MAC layers of MACs × weight bits × activation bits, per image (docs/sweep.md).",
                  spec.model, spec.base, results.size(), spec.sampling, spec.eval_images, spec.detail_images));
  const bool plots = have_gnuplot();
  Plots plotter(dir);
  if (!plots) report.paragraph("No plots: gnuplot is not on PATH (scripts/setup installs gnuplot-nox).");
  std::string data;  // cost top1 pareto axis values...
  for (size_t i = 0; i < results.size(); ++i) {
    if (!results[i].error.empty()) continue;
    data += fmt::format("{} {:.6f} {}", results[i].cost, results[i].accuracy(),
                        std::count(front.begin(), front.end(), i) ? 1 : 0);
    for (size_t a = 0; a < results[i].values.size();
         ++a)  // numbers as numbers (plotted), anything else one quoted column
      data += spec.axes[a].numeric() ? " " + results[i].values[a] : " \"" + results[i].values[a] + "\"";
    data += "\n";
  }
  std::string front_data;
  for (size_t i : front) front_data += fmt::format("{} {:.6f}\n", results[i].cost, results[i].accuracy());
  write_file_atomically((fs::path(dir) / "points.dat").string(), data);
  write_file_atomically((fs::path(dir) / "pareto.dat").string(), front_data);
  // Without a successful point (a sweep of only sensitivity / search) there is nothing to plot against
  // cost; gnuplot would stop at the empty data, and every plot after it in its script with it.
  if (plots && !data.empty()) {
    plotter.add("accuracy_vs_cost",
                "set xlabel 'cost (MACs x weight bits x activation bits per image)'\nset ylabel '" +
                    metric_label(spec) +
                    "'\nset logscale "
                    "x\nset key bottom right\nset grid\n"
                    "plot 'points.dat' using 1:2 with points pt 7 ps 0.8 title 'points', 'pareto.dat' using 1:2 with "
                    "linespoints lw 2 pt 6 ps 1.5 title 'Pareto front'\n");
    report.heading("Accuracy against cost");
    report.image("accuracy_vs_cost.png", "accuracy against cost with the Pareto front");
    for (size_t a = 0; a < spec.axes.size(); ++a) {
      if (!spec.axes[a].numeric()) continue;
      const std::string name = "accuracy_vs_" + spec.axes[a].name;
      plotter.add(name, fmt::format("set xlabel '{} ({}{})'\nset ylabel '" + metric_label(spec) +
                                        "'\nset grid\nset key bottom right\n"
                                        "plot 'points.dat' using {}:2 with points pt 7 ps 0.8 title 'points', '' using "
                                        "{}:2 smooth unique with lines lw 2 title 'mean per value'\n",
                                    spec.axes[a].name, spec.axes[a].key,
                                    spec.axes[a].layers.empty() ? "" : " of " + spec.axes[a].layers, 4 + a, 4 + a));
      report.image(name + ".png", "accuracy against " + spec.axes[a].name);
    }
  }
  report.heading("Pareto front");
  std::vector<std::string> header = {"point"};
  for (const Axis& a : spec.axes) header.push_back(a.name);
  for (const std::string& h : {metric_label(spec), std::string("cost"), std::string("weight memory (bits)"),
                               std::string("overflow events"), std::string("min SQNR (dB)")})
    header.push_back(h);
  auto row = [&](const PointResult& r) {
    std::vector<std::string> cells = {std::to_string(r.index)};
    for (const std::string& v : r.values) cells.push_back(v);
    cells.push_back(fmt::format("{:.4f}", r.accuracy()));
    cells.push_back(fmt::format("{:.3g}", r.cost));
    cells.push_back(std::to_string(r.weight_memory_bits));
    cells.push_back(std::to_string(r.overflow_events));
    cells.push_back(db(r.min_sqnr_db));
    return cells;
  };
  std::vector<std::vector<std::string>> rows;
  for (size_t i : front) rows.push_back(row(results[i]));
  report.table(header, rows);

  // The most accurate point's layers: SQNR and the accumulator analysis.
  const auto best = std::max_element(results.begin(), results.end(), [](const PointResult& a, const PointResult& b) {
    return std::make_tuple(a.error.empty(), a.accuracy(), -a.cost) <
           std::make_tuple(b.error.empty(), b.accuracy(), -b.cost);
  });
  if (best != results.end() && best->error.empty()) {
    report.heading(fmt::format("Layers of the most accurate point ({})", best->index));
    if (plots) {
      std::string layer_data;
      for (size_t l = 0; l < best->layers.size(); ++l)
        layer_data += fmt::format("{} \"{}\" {}\n", l, best->layers[l].layer,
                                  std::isfinite(best->layers[l].sqnr_db) ? best->layers[l].sqnr_db : 99.0);
      write_file_atomically((fs::path(dir) / "layers.dat").string(), layer_data);
      plotter.add("layer_sqnr",
                  "set ylabel 'SQNR (dB) against FP32'\nset yrange [*<0:*]\nset style fill solid 0.6\nset boxwidth "
                  "0.7\nset xtics rotate by -30 left\nset grid ytics\nunset key\n"
                  "set bmargin 8\nplot 'layers.dat' using 1:3:xtic(2) with boxes\n");
      report.image("layer_sqnr.png", "per-layer SQNR");
    }
    std::vector<std::vector<std::string>> layer_rows;
    for (const LayerResult& l : best->layers)
      layer_rows.push_back({l.layer, std::to_string(l.weight_bits), std::to_string(l.act_bits), std::to_string(l.macs),
                            db(l.sqnr_db), std::to_string(l.acc_bits), std::to_string(l.acc_worst_bits),
                            std::to_string(l.acc_observed_bits), std::to_string(l.overflow_events),
                            l.acc_worst_bits > l.acc_bits ? "can overflow" : ""});
    report.table({"layer", "weight bits", "act bits", "MACs", "SQNR (dB)", "acc bits", "worst-case bits",
                  "observed bits", "overflows", ""},
                 layer_rows);
  }
  // Accumulator analysis over every point: layers whose configured width is below what some input
  // could need (worst case), with what the evaluation images needed and the overflows they caused.
  std::vector<std::vector<std::string>> risky;
  for (const PointResult& r : results)
    for (const LayerResult& l : r.layers)
      if (l.acc_worst_bits > l.acc_bits)
        risky.push_back({std::to_string(r.index), l.layer, std::to_string(l.acc_bits), std::to_string(l.acc_worst_bits),
                         std::to_string(l.acc_observed_bits), std::to_string(l.overflow_events),
                         l.acc_observed_bits > l.acc_bits ? "overflowed on the data" : "can overflow"});
  report.heading("Accumulators that can overflow");
  if (risky.empty())
    report.paragraph("None: in every point every MAC layer's accumulator holds its worst case.");
  else
    report.table({"point", "layer", "acc bits", "worst-case bits", "observed bits", "overflow events", ""}, risky);
  if (const auto& sens = analyses.sensitivity) {
    report.heading(fmt::format("Sensitivity: each MAC layer alone at {} = {}", sens->key, sens->value));
    std::string csv = "layer," + spec.metric + ",drop,cost,cost_saved,error\n", bars;
    std::vector<std::vector<std::string>> rows_s;
    for (size_t l = 0; l < sens->layers.size(); ++l) {
      const auto& [layer, r] = sens->layers[l];
      const double drop = sens->baseline.accuracy() - r.accuracy();
      csv += fmt::format("{},{:.4f},{:.4f},{:.0f},{:.0f},\"{}\"\n", layer, r.accuracy(), drop, r.cost,
                         sens->baseline.cost - r.cost, r.error);
      bars += fmt::format("{} \"{}\" {:.4f}\n", l, layer, drop);
      rows_s.push_back({layer, fmt::format("{:.4f}", r.accuracy()), fmt::format("{:+.4f}", -drop),
                        fmt::format("{:.3g}", sens->baseline.cost - r.cost),
                        r.error.empty() ? "" : "failed: " + r.error});
    }
    write_file_atomically((fs::path(dir) / "sensitivity.csv").string(), csv);
    report.paragraph(fmt::format("Baseline (the base config): " + metric_label(spec) + " {:.4f}, cost {:.3g}.",
                                 sens->baseline.accuracy(), sens->baseline.cost));
    if (plots) {
      write_file_atomically((fs::path(dir) / "sensitivity.dat").string(), bars);
      plotter.add("sensitivity",
                  fmt::format("set ylabel '" + metric_label(spec) +
                                  " lost with {} = {}'\nset yrange [*<0:*]\nset style fill solid 0.6\nset "
                                  "boxwidth 0.7\nset xtics rotate by -30 left\nset grid ytics\n"
                                  "unset key\nset bmargin 8\nplot 'sensitivity.dat' using 1:3:xtic(2) with boxes\n",
                              sens->key, sens->value));
      report.image("sensitivity.png", "accuracy lost per layer");
    }
    report.table({"layer", metric_label(spec), "change", "cost saved", ""}, rows_s);
  }
  if (const auto& search = analyses.search) {
    report.heading(
        fmt::format("Mixed-precision search: {} down to {} >= {}", search->key, metric_label(spec), search->target));
    std::string csv = "step,layer,value," + spec.metric + ",cost\n";
    csv += fmt::format("0,,,{:.4f},{:.0f}\n", search->start.accuracy(), search->start.cost);
    std::vector<std::vector<std::string>> rows_q = {{"0", "(start: every layer at " + spec.search->values.front() + ")",
                                                     "", fmt::format("{:.4f}", search->start.accuracy()),
                                                     fmt::format("{:.3g}", search->start.cost)}};
    for (size_t i = 0; i < search->steps.size(); ++i) {
      const auto& st = search->steps[i];
      csv += fmt::format("{},{},{},{:.4f},{:.0f}\n", i + 1, st.layer, st.value, st.result.accuracy(), st.result.cost);
      rows_q.push_back({std::to_string(i + 1), st.layer, st.value, fmt::format("{:.4f}", st.result.accuracy()),
                        fmt::format("{:.3g}", st.result.cost)});
    }
    write_file_atomically((fs::path(dir) / "search.csv").string(), csv);
    if (!search->reached) {
      report.paragraph(
          fmt::format("The target is not reached even with every layer at {}: " + metric_label(spec) + " {:.4f}.",
                      spec.search->values.front(), search->start.accuracy()));
    } else {
      write_file_atomically(
          (fs::path(dir) / "search_config.yaml").string(),
          fmt::format("# chipref sweep {}: the mixed-precision search's result, " + metric_label(spec) +
                          " {:.4f} >= {} at cost {:.3g}\n",
                      spec.path,
                      search->steps.empty() ? search->start.accuracy() : search->steps.back().result.accuracy(),
                      search->target, search->steps.empty() ? search->start.cost : search->steps.back().result.cost) +
              search->config_yaml);
      report.paragraph(
          fmt::format("{} candidate points evaluated; the result is search_config.yaml (chipref quantize --config "
                      "search_config.yaml).",
                      search->evaluated));
    }
    report.table({"step", "layer lowered", "to", metric_label(spec), "cost"}, rows_q);
    std::vector<std::vector<std::string>> finals;
    for (size_t l = 0; l < search->layers.size(); ++l) finals.push_back({search->layers[l], search->final_values[l]});
    report.table({"layer", search->key}, finals);
  }
  report.heading("All points");
  rows.clear();
  for (const PointResult& r : results) {
    std::vector<std::string> cells = row(r);
    if (!r.error.empty()) cells.back() = "failed: " + r.error;
    rows.push_back(cells);
  }
  report.table(header, rows);
  report.paragraph("Data: results.csv, results.json (per-layer details).");
  plotter.draw();
  write_file_atomically((fs::path(dir) / "report.md").string(), report.markdown(title));
  write_file_atomically((fs::path(dir) / "report.html").string(), report.html(title));
}

}  // namespace chipref::sweep
