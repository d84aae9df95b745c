#pragma once
// OmpThreads: OpenMP's thread count for a scope (omp_set_num_threads, restored at its end).

#include <omp.h>

namespace symphony::testkit {

class OmpThreads {
 public:
  explicit OmpThreads(int n) : before_(omp_get_max_threads()) { omp_set_num_threads(n); }
  ~OmpThreads() { omp_set_num_threads(before_); }
  OmpThreads(const OmpThreads&) = delete;
  OmpThreads& operator=(const OmpThreads&) = delete;

 private:
  int before_;
};

}  // namespace symphony::testkit
