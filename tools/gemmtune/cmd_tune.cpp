// `gemmtune tune` (one problem or a workload) and `gemmtune explain`.
#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "commands.h"
#include "core/device_scheduler.h"
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

// Several devices at once: one thread per device, each with tuners of its
// own (Tuner is not thread-safe) and so one measuring worker, taking the next
// problem from a shared queue (core/device_scheduler.h). Progress and
// warnings from the threads go through one lock, tagged with the device.
// report(i, view) is called under that lock as each problem ends.
void tune_on_devices(const std::vector<Task>& tasks, const std::vector<Device>& devices, ProgressDisplay& display,
                     const std::function<void(std::size_t, ResultView)>& report) {
  std::mutex display_mutex;
  std::map<int, std::vector<std::pair<TuneArgs, std::unique_ptr<Tuner>>>> tuners;  // by device index
  std::mutex tuners_mutex;
  auto tuner_for = [&](Device d, const TuneArgs& args) -> Tuner& {
    std::vector<std::pair<TuneArgs, std::unique_ptr<Tuner>>>* mine = nullptr;
    {
      std::lock_guard<std::mutex> lock(tuners_mutex);
      mine = &tuners[d.index];  // a std::map's elements stay put as it grows
    }
    for (auto& [flags, tuner] : *mine)
      if (flags == args) return *tuner;
    TuneOptions options = to_tune_options(args);
    const std::string tag = "[" + to_string(d) + "] ";
    options.on_progress = [&, tag](const ProgressEvent& e) {
      std::lock_guard<std::mutex> lock(display_mutex);
      display.set_prefix(tag);
      display.on_progress(e);
    };
    options.on_warning = [&, tag](const std::string& message) {
      std::lock_guard<std::mutex> lock(display_mutex);
      display.warning(tag + message);
    };
    mine->emplace_back(args, std::make_unique<Tuner>(std::move(options)));
    return *mine->back().second;
  };
  auto run = [&](std::size_t i, Device d, const std::function<void(std::size_t, ResultView)>& report) {
    Task task = tasks[i];
    task.problem.device = d;
    // wait: the other devices of this run are not "elsewhere"; a fleet's
    // remote cache still gives one process each problem. DeviceFailedError
    // goes to the scheduler, which gives the problem to another device.
    ResultView view = *tune_one(tuner_for(d, task.invocation.tune), task, /*wait=*/true);
    view.label = view.label.empty() ? to_string(d) : view.label + " on " + to_string(d);
    std::lock_guard<std::mutex> lock(display_mutex);
    report(i, std::move(view));
  };
  auto failed = [&](const core::ScheduleReport::Failure& f) {
    std::lock_guard<std::mutex> lock(display_mutex);
    display.warning(f.message + "; its problems go to the other devices");
  };
  // A line repeated (the same problem and tuning flags) is tuned once and
  // reported on each of its lines.
  const std::vector<std::size_t> first = core::first_of_same(
      tasks, [](const Task& a, const Task& b) { return a.problem == b.problem && a.invocation.tune == b.invocation.tune; });
  std::vector<std::size_t> distinct;
  for (std::size_t i = 0; i < tasks.size(); ++i)
    if (first[i] == i) distinct.push_back(i);
  std::vector<ResultView> done(tasks.size());
  auto keep = [&](std::size_t i, ResultView view) {  // under display_mutex
    done[i] = view;
    report(i, std::move(view));
  };
  auto run_distinct = [&](std::size_t k, Device d) { run(distinct[k], d, keep); };
  const core::ScheduleReport schedule = core::run_on_devices(distinct.size(), devices, run_distinct, failed);
  for (std::size_t k = 0; k < distinct.size(); ++k)
    if (!schedule.ran_on[k]) {
      ResultView view;
      view.label = tasks[distinct[k]].label;
      view.record.problem = tasks[distinct[k]].problem;
      view.error = "not tuned: " + schedule.unfinished_why[k] + "\n";
      keep(distinct[k], std::move(view));
    }
  for (std::size_t i = 0; i < tasks.size(); ++i)
    if (first[i] != i) {
      ResultView view = done[first[i]];
      view.label = tasks[i].label + (view.label.empty() ? "" : " (as " + view.label + ")");
      report(i, std::move(view));
    }
  tuners.clear();  // the tuners and their workers end on this thread
}

// --devices: a list of GPUs, each available, checked before any work. A
// problem that names the CPU cannot be spread over GPUs.
std::vector<Device> devices_to_spread_over(const Invocation& inv, const std::vector<Task>& tasks) {
  // The command line's own --device first: it applies to every line, and a
  // message about line 1 would send the user to the wrong place.
  if (inv.problem.device_given && inv.problem.device.kind != DeviceKind::cuda)
    throw UsageError("--device " + to_string(inv.problem.device) + " on the command line contradicts --devices " +
                         inv.devices + " (which spreads the problems over GPUs)",
                     usage_hint(Command::tune));
  for (const Task& task : tasks)
    if (task.invocation.problem.device_given && task.invocation.problem.device.kind != DeviceKind::cuda)
      throw UsageError((task.label.empty() ? std::string() : task.label + ": ") + "--device " +
                           to_string(task.invocation.problem.device) + " contradicts --devices " + inv.devices +
                           " (which spreads the problems over GPUs)",
                       usage_hint(Command::tune));
  return parse_devices(inv.devices);
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

  // Every problem goes to whichever of the devices takes it.
  std::vector<Device> devices;
  if (!inv.devices.empty()) {
    devices = devices_to_spread_over(inv, tasks);
    for (Task& task : tasks) task.problem.device = devices.front();
  }

  // One progress line cannot follow several devices at once: with --devices
  // the display prints warnings only.
  ProgressDisplay display(io.err, io.err_is_terminal && devices.empty(), inv.quiet);
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
  if (!devices.empty()) tune_on_devices(tasks, devices, display, report);
  for (std::size_t i = 0; i < tasks.size() && devices.empty(); ++i) {
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
  const std::string none = "no enabled backend offers a choice for " + describe(problem);
  if (inv.format == OutputFormat::json)
    io.out << json_text(explanation_to_json(explanation, any_choice ? std::nullopt : std::optional(none))) << "\n";
  else
    io.out << format_explanation(explanation);
  if (!any_choice) {
    io.err << "gemmtune: error: " << none << "\n";
    return kExitNoChoices;
  }
  return kExitOk;
}

}  // namespace gemmtune::cli
