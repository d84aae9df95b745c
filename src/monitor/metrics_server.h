#pragma once
// The Prometheus endpoint of a training run: GET /metrics answers with the families of the last
// published RunMetricsSnapshot (monitor/run_metrics.h) in the text exposition format
// (monitor/prometheus_text.h), content type "text/plain; version=0.0.4". Any other path is 404.
// The HTTP server (cpp-httplib) runs on its own threads; the trainer publishes with update(),
// which holds the snapshot's mutex only while it copies figures in. Each scrape renders a copy
// of the snapshot taken under the same mutex.
// Thread-safety: update(), render() and port() may be called from any thread.

#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/status.h"
#include "monitor/run_metrics.h"

namespace httplib {
class Server;
}

namespace symphony {

class MetricsServer {
 public:
  // Binds host:port (port 0: a free port the system picks) and starts serving.
  // Failure: kIo naming host:port when it cannot bind (in use, bad address) or does not start.
  static Result<std::unique_ptr<MetricsServer>> start(const std::string& host, int port);
  // Stops serving and joins the server's threads.
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  int port() const { return port_; }
  const std::string& host() const { return host_; }

  // Calls fn(RunMetricsSnapshot&) under the snapshot's mutex.
  template <typename Fn>
  void update(Fn&& fn) {
    std::lock_guard<std::mutex> lock(mutex_);
    fn(snapshot_);
  }
  // The body GET /metrics returns now.
  std::string render() const;

 private:
  MetricsServer() = default;

  std::string host_;
  int port_ = 0;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  mutable std::mutex mutex_;
  RunMetricsSnapshot snapshot_;
};

}  // namespace symphony
