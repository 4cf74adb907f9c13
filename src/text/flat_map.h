// Open-addressing hash maps for the tokenizer's load-time tables: one flat array
// each, linear probing, no per-entry allocation (std::unordered_map's nodes made
// loading a 151k-token vocabulary cache-miss bound). Insert-only; not thread-safe
// while inserting, safe to read concurrently afterwards.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

namespace qasr {

// string_view (not owned; the viewed bytes must outlive the map) → int32.
class FlatStrMap {
 public:
  void reserve(size_t n) {
    size_t cap = 16;
    while (cap < 2 * n) cap <<= 1;
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
  }
  // Inserts or overwrites.
  void put(std::string_view key, int32_t value) {
    if (2 * (size_ + 1) > slots_.size()) grow();
    const uint32_t h = hash(key);
    Slot& s = probe(key, h);
    if (!s.used) ++size_;
    s = Slot{key.data(), static_cast<uint32_t>(key.size()), value, h, true};
  }
  // Inserts only if absent.
  void put_if_absent(std::string_view key, int32_t value) {
    if (2 * (size_ + 1) > slots_.size()) grow();
    const uint32_t h = hash(key);
    Slot& s = probe(key, h);
    if (!s.used) {
      s = Slot{key.data(), static_cast<uint32_t>(key.size()), value, h, true};
      ++size_;
    }
  }
  const int32_t* find(std::string_view key) const {
    if (slots_.empty()) return nullptr;
    const Slot& s = const_cast<FlatStrMap*>(this)->probe(key, hash(key));
    return s.used ? &s.value : nullptr;
  }
  size_t size() const { return size_; }

 private:
  struct Slot {
    const char* p = nullptr;
    uint32_t len = 0;
    int32_t value = 0;
    uint32_t h = 0;  // full hash: most mismatches are rejected without touching the key bytes
    bool used = false;
  };
  static uint32_t hash(std::string_view key) {
    return static_cast<uint32_t>(std::hash<std::string_view>{}(key) >> 32) | 1u;
  }
  Slot& probe(std::string_view key, uint32_t h) {
    size_t i = (h * 0x9E3779B1u) & mask_;
    for (;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (!s.used || (s.h == h && s.len == key.size() && std::string_view(s.p, s.len) == key)) return s;
    }
  }
  void grow() {
    std::vector<Slot> old = std::move(slots_);
    reserve(old.empty() ? 8 : old.size());
    size_ = 0;
    for (const Slot& s : old)
      if (s.used) put(std::string_view(s.p, s.len), s.value);
  }
  std::vector<Slot> slots_;
  size_t mask_ = 0, size_ = 0;
};

// uint64 → (int32, int32), for BPE merges keyed by (left id, right id).
class FlatPairMap {
 public:
  void reserve(size_t n) {
    size_t cap = 16;
    while (cap < 2 * n) cap <<= 1;
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
  }
  // First insertion wins (the lowest merge rank).
  void put_if_absent(uint64_t key, int32_t a, int32_t b) {
    if (2 * (size_ + 1) > slots_.size()) grow();
    Slot& s = probe(key);
    if (!s.used) {
      s = Slot{key, a, b, true};
      ++size_;
    }
  }
  bool get(uint64_t key, int32_t* a, int32_t* b) const {
    if (slots_.empty()) return false;
    const Slot& s = const_cast<FlatPairMap*>(this)->probe(key);
    if (!s.used) return false;
    *a = s.a;
    *b = s.b;
    return true;
  }
  size_t size() const { return size_; }
  template <typename Fn>
  void for_each(Fn&& fn) const {
    for (const Slot& s : slots_)
      if (s.used) fn(s.key, s.a, s.b);
  }

 private:
  struct Slot {
    uint64_t key = 0;
    int32_t a = 0, b = 0;
    bool used = false;
  };
  Slot& probe(uint64_t key) {
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    size_t i = static_cast<size_t>(h >> 20) & mask_;
    for (;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (!s.used || s.key == key) return s;
    }
  }
  void grow() {
    std::vector<Slot> old = std::move(slots_);
    reserve(old.empty() ? 8 : old.size());
    size_ = 0;
    for (const Slot& s : old)
      if (s.used) put_if_absent(s.key, s.a, s.b);
  }
  std::vector<Slot> slots_;
  size_t mask_ = 0, size_ = 0;
};

}  // namespace qasr
