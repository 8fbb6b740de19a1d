// The arena of runtime/call_arena.hpp and the replaced global operator new and delete.
#include "runtime/call_arena.hpp"

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace vaec::rt {

namespace {

struct call_arena {
  static constexpr std::size_t size = 16384;
  alignas(64) unsigned char buffer[size] = {};
  std::size_t used = 0;                     // touched only by the owner
  std::atomic<int> live{0};                 // blocks handed out and not yet freed
  std::atomic<const void*> owner{nullptr};  // the thread inside a scope (its `this_thread`), or none
  bool owns(const void* p) const {
    auto* c = static_cast<const unsigned char*>(p);
    return c >= buffer && c < buffer + size;
  }
};
constinit call_arena arena;
// An address that tells threads apart without a library call.
thread_local constinit char this_thread = 0;

}  // namespace

void* call_arena_take(std::size_t n) {
  if (arena.owner.load(std::memory_order_relaxed) != &this_thread) return nullptr;
  const std::size_t step = (n + 15) / 16 * 16;
  if (step == 0 || arena.used + step > call_arena::size) return nullptr;
  void* p = arena.buffer + arena.used;
  arena.used += step;
  arena.live.fetch_add(1, std::memory_order_relaxed);
  return p;
}

bool call_arena_give_back(void* p) {
  if (!p || !arena.owns(p)) return false;
  arena.live.fetch_sub(1, std::memory_order_relaxed);
  return true;
}

call_arena_scope::call_arena_scope() {
  const void* none = nullptr;
  if (arena.owner.compare_exchange_strong(none, &this_thread)) {
    entered_ = true;
    if (arena.live.load() == 0) arena.used = 0;
  }
}

call_arena_scope::~call_arena_scope() {
  if (!entered_) return;
  if (arena.live.load() == 0) arena.used = 0;
  arena.owner.store(nullptr);
}

}  // namespace vaec::rt

// The replaceable global allocation functions; libstdc++'s array, nothrow and sized forms
// call these two.
void* operator new(std::size_t n) {
  if (void* p = vaec::rt::call_arena_take(n)) return p;
  for (;;) {
    if (void* p = std::malloc(n ? n : 1)) return p;
    std::new_handler h = std::get_new_handler();
    if (!h) throw std::bad_alloc();
    h();
  }
}

void operator delete(void* p) noexcept {
  if (!vaec::rt::call_arena_give_back(p)) std::free(p);
}

void operator delete(void* p, std::size_t) noexcept { operator delete(p); }
