// Buffers with a fixed alignment. Vectorized loops (Eigen's, the compiler's) and BLAS
// kernels take different code paths — a scalar head before the aligned body, another
// order of summation — depending on where a buffer starts. With malloc's 16-byte
// alignment that start depends on the heap's layout, which depends on the environment,
// the command line's length and how stdout is redirected; so did vaec's results (issue 8).
// Every buffer that numeric code touches is therefore allocated on a 64-byte boundary
// (a cache line, and the width of an AVX-512 register), whatever the heap looks like.
#pragma once

#include <cstddef>
#include <new>
#include <vector>

namespace vaec::rt {

// The alignment, in bytes, of every numeric buffer.
inline constexpr std::size_t buffer_alignment = 64;

// A standard allocator whose blocks start on a `buffer_alignment`-byte boundary
// (::operator new with std::align_val_t). Throws std::bad_alloc as std::allocator does.
template <class T>
struct aligned_allocator {
  using value_type = T;
  aligned_allocator() noexcept = default;
  template <class U>
  aligned_allocator(const aligned_allocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t{buffer_alignment}));
  }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, std::align_val_t{buffer_alignment}); }
  template <class U>
  bool operator==(const aligned_allocator<U>&) const noexcept { return true; }
};

// A std::vector whose data() is 64-byte aligned.
template <class T>
using aligned_vector = std::vector<T, aligned_allocator<T>>;

}  // namespace vaec::rt
