#include "isolation/worker_measurer.h"

#include <optional>

#include "isolation/protocol.h"
#include "store/record_json.h"
#include "util/log.h"

namespace gemmtune::isolation {
namespace {

using nlohmann::json;

// What a phase means in a message: "while building it".
std::string during(std::optional<measure::Phase> phase) {
  if (!phase) return "before it started";
  switch (*phase) {
    case measure::Phase::prepare: return "while making the problem's inputs and exact reference";
    case measure::Phase::build: return "while building it";
    case measure::Phase::run: return "while running it";
  }
  return "";
}

class WorkerProblem final : public measure::ProblemMeasurer {
 public:
  WorkerProblem(std::shared_ptr<WorkerPool> pool, const Problem& problem, const measure::MeasureSettings& settings)
      : pool_(std::move(pool)), problem_(problem), settings_(settings) {
    limit_seconds_ = settings_.options.choice_timeout_ms.value_or(
                         default_choice_timeout_seconds(problem.device.kind) * 1000.0) /
                     1000.0;
    if (settings_.failpoints) failpoints_text_ = settings_.failpoints->text();
  }

  ~WorkerProblem() override {
    // The worker keeps the last problem's inputs for the next choice; tell it
    // they are no longer needed (best effort: a dead worker is fine).
    if (!told_worker_) return;
    try {
      auto lease = pool_->acquire_if_running(problem_.device);
      if (lease) (void)write_frame(lease->worker().socket(), R"({"type":"forget"})", Deadline::after(1));
    } catch (...) {
    }
  }

  ChoiceOutcome measure(const Backend& backend, const Choice& choice, double best_us) override {
    ChoiceOutcome out = measure::outcome_for(backend.name(), choice);
    if (problem_failure_) {
      out.rejection = *problem_failure_;
      return out;
    }
    MeasureRequest request;
    request.id = ++next_id_;
    request.problem = problem_;
    request.backend = std::string(backend.name());
    request.backend_version = backend.version();
    request.choice = choice.name;
    request.best_us = best_us;
    request.settings = settings_;
    request.failpoints_text = failpoints_text_;
    const std::string payload = to_json(request).dump();

    // A worker lost while making the problem's inputs and reference is not
    // the choice's fault: a fresh worker tries once more; lost again, the
    // device is taken to be failing.
    for (int attempt = 1;; ++attempt) {
      WorkerPool::Lease lease = pool_->acquire(problem_.device);
      told_worker_ = true;
      // A worker that died while idle is only noticed when the request does
      // not go through: start a fresh one once, the choice is not to blame.
      Io sent = write_frame(lease.worker().socket(), payload, Deadline::after(10));
      if (sent != Io::ok) {
        log::info("the measuring worker could not take a request (it " + lease.retire(1.0).text +
                  "); starting another");
        sent = write_frame(lease.restart().socket(), payload, Deadline::after(10));
        if (sent != Io::ok)
          throw DeviceFailedError(problem_.device, "its new measuring worker " + lease.retire(1.0).text +
                                                       " before taking a request");
      }
      Exchange exchange = await_result(lease, request.id, out);
      if (!exchange.lost_preparing) return exchange.outcome;
      if (attempt == 2)
        throw DeviceFailedError(problem_.device, "its measuring worker was lost twice before measuring a choice of " +
                                                     describe(problem_) + " (the second time: " +
                                                     exchange.outcome.rejection->to_string() + ")");
      log::info("the measuring worker for " + to_string(problem_.device) + " was lost preparing " +
                describe(problem_) + "; trying once more");
    }
  }

 private:
  struct Exchange {
    ChoiceOutcome outcome;
    bool lost_preparing = false;  // the worker died or hung before the choice was built
  };

  Exchange await_result(WorkerPool::Lease& lease, std::uint64_t id, ChoiceOutcome out) {
    std::optional<measure::Phase> phase;
    const auto preparing = [&] { return !phase || *phase == measure::Phase::prepare; };
    // Died or hung: maybe the device, maybe chance; the caller retries once.
    const auto lost = [&](Rejection r) {
      out.rejection = std::move(r);
      return Exchange{out, preparing()};
    };
    // Broke the protocol: the worker's own fault, and the next one would
    // break it the same way, so no retry, and while preparing it is the
    // rejection of every choice of the problem.
    const auto broke = [&](Rejection r) {
      out.rejection = std::move(r);
      if (preparing()) problem_failure_ = out.rejection;
      return Exchange{out, false};
    };
    Deadline deadline = Deadline::after(limit_seconds_ + kDeadlineSlackSeconds);
    std::string payload;
    for (;;) {
      const Io io = read_frame(lease.worker().socket(), payload, deadline);
      if (io == Io::timeout) {
        lease.retire(0);
        return lost(Rejection{Stage::timeout, Reason::timed_out,
                              "no answer within " + seconds_text(limit_seconds_) + " s " + during(phase) +
                                  " (the per-choice limit: --choice-timeout, GEMMTUNE_CHOICE_TIMEOUT); the "
                                  "measuring worker was killed and is replaced"});
      }
      if (io != Io::ok) {
        const Ending ending = lease.retire(1.0);
        if (io == Io::closed)
          return lost(Rejection{Stage::crash, Reason::crashed,
                                "the measuring worker " + ending.text + " " + during(phase) +
                                    "; a new worker measures the next choice"});
        return broke(Rejection{Stage::crash, Reason::internal_error,
                              std::string("the measuring worker broke the protocol (") +
                                  (io == Io::too_large ? "a message over the size limit" : "a socket error") + ") " +
                                  during(phase) + "; it was killed and is replaced"});
      }
      try {
        const json message = json::parse(payload);
        const std::string type = message.at("type").get<std::string>();
        if (message.at("id").get<std::uint64_t>() != id) throw std::runtime_error("an answer to another request");
        if (type == "phase") {
          const std::string name = message.at("phase").get<std::string>();
          if (name == "prepare") phase = measure::Phase::prepare;
          else if (name == "build") phase = measure::Phase::build;
          else if (name == "run") phase = measure::Phase::run;
          else throw std::runtime_error("unknown phase '" + name + "'");
          deadline = Deadline::after(limit_seconds_ + kDeadlineSlackSeconds);
          continue;
        }
        if (type != "result") throw std::runtime_error("unknown message type '" + type + "'");
        const ChoiceOutcome reported = store::choice_outcome_from_json(message.at("outcome"));
        out.timing = reported.timing;
        out.rejection = reported.rejection;
        out.max_error = reported.max_error;
        if (!message.at("healthy").get<bool>()) {
          // The device is unusable in that process (a lost CUDA context):
          // the choice's own rejection says what happened.
          lease.retire(1.0);
          if (out.rejection) out.rejection->message += "; the device context was lost, so the worker was replaced";
        }
        if (out.rejection && phase == measure::Phase::prepare) {
          // The worker could not use the device at all: no choice can run.
          if (out.rejection->reason == Reason::unavailable)
            throw DeviceFailedError(problem_.device, "the measuring worker cannot use it: " + out.rejection->message);
          problem_failure_ = out.rejection;  // e.g. the inputs do not fit: the same for every choice
        }
        return Exchange{out, false};
      } catch (const DeviceFailedError&) {
        throw;
      } catch (const std::exception& e) {
        lease.retire(0);
        return broke(Rejection{Stage::crash, Reason::internal_error,
                              std::string("the measuring worker sent a malformed message (") + e.what() + ") " +
                                  during(phase) + "; it was killed and is replaced"});
      }
    }
  }

  static std::string seconds_text(double s) {
    std::string t = std::to_string(s);
    t.erase(t.find_last_not_of('0') + 1);
    if (!t.empty() && t.back() == '.') t.pop_back();
    return t;
  }

  std::shared_ptr<WorkerPool> pool_;
  Problem problem_;
  measure::MeasureSettings settings_;
  std::string failpoints_text_;
  double limit_seconds_ = 0;
  std::uint64_t next_id_ = 0;
  bool told_worker_ = false;
  std::optional<Rejection> problem_failure_;
};

class WorkerMeasurer final : public measure::Measurer {
 public:
  explicit WorkerMeasurer(std::shared_ptr<WorkerPool> pool) : pool_(std::move(pool)) {}
  std::unique_ptr<measure::ProblemMeasurer> open(const Problem& problem,
                                                 const measure::MeasureSettings& settings) override {
    return std::make_unique<WorkerProblem>(pool_, problem, settings);
  }

 private:
  std::shared_ptr<WorkerPool> pool_;
};

}  // namespace

std::shared_ptr<measure::Measurer> make_worker_measurer(std::shared_ptr<WorkerPool> pool) {
  return std::make_shared<WorkerMeasurer>(std::move(pool));
}

}  // namespace gemmtune::isolation
