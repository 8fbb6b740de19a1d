// While a oneDNN product runs, the calling thread's operator new is served from a fixed
// arena instead of the heap.
//
// dnnl_primitive_execute keeps its arguments in a std::unordered_map and makes a
// scratchpad grantor: 6 small operator-new blocks (32–104 bytes) on the calling thread,
// freed before it returns, on every call (oneDNN 2.6, src/common/primitive_iface.cpp).
// vaec's guarantee is that a step allocates nothing (tests/runtime/alloc_test.cpp), so
// call_arena.cpp replaces the global operator new and delete ([new.delete.single]): inside
// a call_arena_scope, on the thread that opened it, blocks come from a bump pointer over a
// 16 KiB static buffer, reset when every block from it has been freed; a block that does
// not fit goes to the heap (and the allocation test would see it). Everywhere else
// operator new is malloc with the standard new-handler loop and operator delete is free.
// The definitions sit alone in call_arena.cpp so that no caller inlines them (a tool that
// replaces operator new, such as valgrind, then replaces both halves).
#pragma once

namespace vaec::rt {

// Serves the calling thread's operator new from the arena for its lifetime. Only one
// thread at a time uses the arena; a scope opened while another thread holds it does
// nothing (that thread's blocks come from the heap).
class call_arena_scope {
 public:
  call_arena_scope();
  ~call_arena_scope();
  call_arena_scope(const call_arena_scope&) = delete;
  call_arena_scope& operator=(const call_arena_scope&) = delete;

 private:
  bool entered_ = false;
};

}  // namespace vaec::rt
