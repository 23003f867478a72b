#include "cli.h"

#include <chrono>
#include <exception>
#include <new>

#include "commands.h"
#include "gemmtune/errors.h"
#include "format.h"
#include "gemmtune/tuner.h"
#include "npy.h"
#include "util/files.h"
#include "core/option_table.h"

namespace gemmtune::cli {

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double seconds_since(std::int64_t start_ns) { return static_cast<double>(now_ns() - start_ns) * 1e-9; }

TuneOptions make_tune_options(const TuneArgs& args, ProgressDisplay& display) {
  TuneOptions options = to_tune_options(args);
  options.on_progress = [&display](const ProgressEvent& e) { display.on_progress(e); };
  options.on_warning = [&display](const std::string& message) { display.warning(message); };
  return options;
}

Problem build_problem(const ProblemArgs& args) {
  Problem problem = to_problem(args);
  validate(problem);
  return problem;
}

int run_cli(const std::vector<std::string>& args, Io io) {
  try {
    if (!args.empty() && args[0] == "--version") {
      if (args.size() > 1)
        throw UsageError("--version takes nothing after it (got '" + args[1] + "')", "usage: gemmtune --version");
      io.out << "gemmtune " << version() << "\n";
      return kExitOk;
    }
    Invocation inv = parse_command_line(args);
    // Every malformed GEMMTUNE_* value (GEMMTUNE_LOG included) is bad usage
    // found before any work, for commands that never make a tuner too.
    if (inv.command != Command::help) (void)option_table::with_environment(TuneOptions{});
    switch (inv.command) {
      case Command::help:
        // A bare `gemmtune` is handled by parse_command_line (usage error);
        // asking for help is a success.
        io.out << help_text(inv.help_topic);
        return kExitOk;
      case Command::backends: return cmd_backends(inv, io);
      case Command::tune: return cmd_tune(inv, io);
      case Command::explain: return cmd_explain(inv, io);
      case Command::run: return cmd_run(inv, io);
      case Command::cache: return cmd_cache(inv, io);
    }
    return kExitInternal;
  } catch (const UsageError& e) {
    io.err << "gemmtune: error: " << printable(e.what()) << "\n" << e.hint() << "\n";
    return kExitUsage;
  } catch (const InvalidProblemError& e) {
    io.err << "gemmtune: error: " << printable(e.what()) << "\n";
    return kExitUsage;
  } catch (const ConfigError& e) {
    io.err << "gemmtune: error: " << printable(e.what()) << "\n";
    return kExitUsage;
  } catch (const NpyError& e) {
    io.err << "gemmtune: error: " << printable(e.what()) << "\n";
    return kExitUsage;
  } catch (const StoreInputError& e) {
    io.err << "gemmtune: error: " << printable(e.what()) << "\n";
    return kExitUsage;
  } catch (const files::FileError& e) {
    io.err << "gemmtune: error: " << printable(e.what()) << "\n";
    return e.fault() == files::FileError::Fault::usage ? kExitUsage : kExitInternal;
  } catch (const NoValidChoicesError& e) {
    io.err << "gemmtune: error: " << printable(e.what());
    return kExitNoChoices;
  } catch (const std::bad_alloc&) {
    io.err << "gemmtune: internal error: out of memory\n";
    return kExitInternal;
  } catch (const std::exception& e) {
    io.err << "gemmtune: error: " << printable(e.what()) << "\n";
    return kExitInternal;
  } catch (...) {
    io.err << "gemmtune: internal error: unknown exception\n";
    return kExitInternal;
  }
}

}  // namespace gemmtune::cli
