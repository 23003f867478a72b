// `gemmtune tune` (one problem or a workload) and `gemmtune explain`.
#include <algorithm>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "commands.h"
#include "format.h"
#include "measure/inputs.h"
#include "store/store.h"
#include "workload.h"

namespace gemmtune::cli {
namespace {

// Tuners by the flags that configure them, so a workload whose lines share
// their tuning flags shares one tuner (one store connection, one set of
// backend objects). Workloads are short: a linear search is enough.
class TunerPool {
 public:
  explicit TunerPool(ProgressDisplay& display) : display_(display) {}

  Tuner& get(const TuneArgs& args) {
    for (auto& [flags, tuner] : tuners_)
      if (flags == args) return *tuner;
    tuners_.emplace_back(args, std::make_unique<Tuner>(make_tune_options(args, display_)));
    return *tuners_.back().second;
  }

 private:
  ProgressDisplay& display_;
  std::vector<std::pair<TuneArgs, std::unique_ptr<Tuner>>> tuners_;
};

struct Task {
  std::string label;
  Invocation invocation;
  Problem problem;
  Tuner* tuner = nullptr;  // from the pool, shared by lines with the same tuning flags
};

// One problem's result; nullopt when `wait` is off and another process of
// the fleet is tuning it right now.
std::optional<ResultView> tune_one(Tuner& tuner, const Task& task, bool wait) {
  ResultView view;
  view.label = task.label;
  view.db_path = tuner.db_path();
  const std::int64_t start = now_ns();
  try {
    std::optional<TuneResult> result =
        wait ? std::optional<TuneResult>(tuner.tune(task.problem)) : tuner.tune_unless_claimed(task.problem);
    if (!result) return std::nullopt;
    view.record = std::move(result->record);
    view.cache_hit = result->cache_hit;
    view.source = result->source;
    view.waited_seconds = result->waited_seconds;
    view.waited_too_long = result->waited_too_long;
  } catch (const NoValidChoicesError& e) {
    view.record = e.record();
    view.error = e.what();
    view.hints = e.hints();
  }
  view.seconds = seconds_since(start);
  return view;
}

}  // namespace

int cmd_tune(const Invocation& inv, Io& io) {
  // Every problem is parsed and validated before anything is tuned, so a bad
  // line 40 does not surface after minutes of tuning lines 1-39.
  std::vector<Task> tasks;
  if (inv.workload) {
    for (auto& item : load_workload(inv)) {
      try {
        Problem problem = build_problem(item.invocation.problem);
        measure::check_fits_in_memory(problem, 2);
        tasks.push_back(Task{item.label, std::move(item.invocation), std::move(problem)});
      } catch (const InvalidProblemError& e) {
        throw UsageError(item.label + ": " + e.what(), usage_hint(Command::tune));
      }
    }
  } else {
    tasks.push_back(Task{"", inv, build_problem(inv.problem)});
    measure::check_fits_in_memory(tasks.back().problem, 2);
  }

  ProgressDisplay display(io.err, io.err_is_terminal, inv.quiet);
  TunerPool pool(display);
  // Tuners resolve their options (backend names, GEMMTUNE_* values) when
  // made: make them all now so a bad --backends on a late line fails first.
  for (Task& task : tasks) {
    try {
      task.tuner = &pool.get(task.invocation.tune);
    } catch (const ConfigError& e) {
      if (task.label.empty()) throw;
      throw ConfigError(task.label + ": " + e.what());
    }
  }
  // Open every results database now: a --db that is not gemmtune's is
  // refused before the first problem is tuned. The handles share their
  // connection with the tuners' (one per file).
  std::vector<std::unique_ptr<store::Store>> databases;
  for (const Task& task : tasks) {
    const std::string path = task.tuner->db_path();
    if (path.empty()) continue;  // --no-cache
    if (std::none_of(databases.begin(), databases.end(), [&](const auto& d) { return d->path() == path; }))
      databases.push_back(store::open_shared(path, [&display](const std::string& m) { display.warning(m); }));
  }
  std::vector<std::optional<ResultView>> results(tasks.size());
  const std::int64_t start = now_ns();
  bool any_failed = false;
  if (inv.format == OutputFormat::csv) io.out << csv_header();
  auto report = [&](std::size_t i, ResultView view) {
    if (view.error) any_failed = true;
    switch (inv.format) {
      case OutputFormat::table:
        if (view.error) {
          io.err << "gemmtune: error: " << printable((view.label.empty() ? "" : view.label + ": ") + *view.error);
        } else {
          if (!view.label.empty()) io.out << "[" << view.label << "] ";
          io.out << format_autotune(view);
          if (tasks.size() > 1) io.out << "\n";
        }
        break;
      case OutputFormat::csv:
        io.out << csv_rows(view);
        if (view.error) io.err << "gemmtune: error: " << printable((view.label.empty() ? "" : view.label + ": ") + *view.error);
        break;
      case OutputFormat::json:
        if (!inv.workload) io.out << json_text(result_to_json(view)) << "\n";
        // Also on stderr: the JSON carries it, but a script that reads
        // only stderr and the exit code must learn why too.
        if (view.error) io.err << "gemmtune: error: " << printable((view.label.empty() ? "" : view.label + ": ") + *view.error);
        break;
    }
    io.out.flush();
    results[i] = std::move(view);
  };
  auto progress_prefix = [&](std::size_t i) {
    if (tasks.size() > 1)
      display.set_prefix("(" + std::to_string(i + 1) + "/" + std::to_string(tasks.size()) + ") ");
  };
  // A fleet sharing a remote cache splits a workload by itself: each process
  // takes the next problem nobody is tuning and leaves the ones others are
  // tuning for a second pass, which waits for their results. Without a
  // remote cache nothing is claimed elsewhere and the first pass does all.
  std::vector<std::size_t> claimed_elsewhere;
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    progress_prefix(i);
    std::optional<ResultView> view = tune_one(*tasks[i].tuner, tasks[i], /*wait=*/tasks.size() == 1);
    display.clear();
    if (view) report(i, std::move(*view));
    else claimed_elsewhere.push_back(i);
  }
  for (std::size_t i : claimed_elsewhere) {
    progress_prefix(i);
    std::optional<ResultView> view = tune_one(*tasks[i].tuner, tasks[i], /*wait=*/true);
    display.clear();
    report(i, std::move(*view));
  }
  if (inv.workload) {
    std::vector<ResultView> in_order;
    for (auto& v : results) in_order.push_back(std::move(*v));
    if (inv.format == OutputFormat::json) {
      nlohmann::json all = nlohmann::json::array();
      for (const auto& v : in_order) all.push_back(result_to_json(v));
      io.out << json_text(all) << "\n";
    } else if (inv.format == OutputFormat::table) {
      io.out << format_summary(in_order, seconds_since(start));
    }
  }
  return any_failed ? kExitNoChoices : kExitOk;
}

int cmd_explain(const Invocation& inv, Io& io) {
  Problem problem = build_problem(inv.problem);
  ProgressDisplay display(io.err, false, true);
  TuneArgs args = inv.tune;
  args.values["cache"] = "0";  // explain never reads or writes the database
  Tuner tuner(make_tune_options(args, display));
  Explanation explanation = tuner.explain(problem);
  const bool any_choice = std::any_of(explanation.record.choices.begin(), explanation.record.choices.end(),
                                      [](const ChoiceOutcome& c) { return c.ok(); });
  if (inv.format == OutputFormat::json) io.out << json_text(explanation_to_json(explanation)) << "\n";
  else io.out << format_explanation(explanation);
  if (!any_choice) {
    io.err << "gemmtune: error: no enabled backend offers a choice for " << describe(problem) << "\n";
    return kExitNoChoices;
  }
  return kExitOk;
}

}  // namespace gemmtune::cli
