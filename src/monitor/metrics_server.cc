#include "monitor/metrics_server.h"

#include <httplib.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <chrono>

namespace symphony {

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(const std::string& host, int port) {
  std::unique_ptr<MetricsServer> s(new MetricsServer());
  s->host_ = host;
  s->server_ = std::make_unique<httplib::Server>();
  httplib::Server& server = *s->server_;
  // Two threads serve: a scrape is a few kilobytes rendered in microseconds, and one connection
  // per request (no keep-alive) never leaves a thread parked on an idle client.
  server.new_task_queue = [] { return new httplib::ThreadPool(2); };
  server.set_keep_alive_max_count(1);
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, which would let a second run bind
  // the same port and answer half the scrapes instead of failing.
  server.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  MetricsServer* self = s.get();
  server.Get("/metrics", [self](const httplib::Request&, httplib::Response& response) {
    response.set_content(self->render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  if (port == 0) {
    s->port_ = server.bind_to_any_port(host);
    if (s->port_ <= 0)
      return Error::io("{}:0: cannot bind the metrics endpoint to a free port", host);
  } else {
    if (!server.bind_to_port(host, port))
      return Error::io(
          "{}:{}: cannot bind the metrics endpoint (port in use, or not an address "
          "of this machine)",
          host, port);
    s->port_ = port;
  }
  s->thread_ = std::thread([self] {
    // httplib writes with send() without MSG_NOSIGNAL: a scraper that hangs up mid-response
    // would raise SIGPIPE and end the training process. Blocked here, in the thread that starts
    // the server's workers (they inherit the mask), such a write fails with EPIPE instead.
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
    self->server_->listen_after_bind();
  });
  // stop() only takes effect on a running server: wait until it runs, so the destructor can
  // always stop it.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!server.is_running()) {
    if (std::chrono::steady_clock::now() > deadline)
      return Error::io("{}:{}: the metrics endpoint did not start within 10 s", host, s->port_);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return s;
}

MetricsServer::~MetricsServer() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

std::string MetricsServer::render() const {
  RunMetricsSnapshot copy;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    copy = snapshot_;
  }
  return render_prometheus_text(run_metric_families(copy, unix_seconds()));
}

}  // namespace symphony
