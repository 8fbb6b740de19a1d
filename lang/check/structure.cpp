// The factor structure: every variable has its factors, the p factors and the q factors
// each form a directed acyclic graph, the q factors start from the data, and every latent
// generates the data. Also the order (Kahn's) in which factor blocks are checked. Runs
// after the headers are read (names.cpp) and before any factor block (factors.cpp); the
// checks that need every edge are skipped when a header had an error. A variable of a joint
// block `q(s, g | x)` has as inputs the block's '|' list and the block's earlier variables,
// so a cycle through any of its variables is a cycle through the block; whether a latent of
// a joint p block generates the data is checked again once its block shows which earlier
// variables each sample uses (names.cpp).
#include "lang/check/checker.hpp"

#include <deque>

#include <fmt/format.h>

namespace vaec::check_impl {

// Variables in an order where every factor of `side` comes after the factors of the
// variables it conditions on (Kahn's algorithm; no recursion, whatever the size).
// Variables on a cycle come last, in declaration order.
std::vector<int> checker::order(char side) {
  const std::size_t n = model_.variables.size();
  const auto& inputs = side == 'p' ? p_inputs_ : q_inputs_;
  std::vector<std::vector<int>> out_edges(n);
  std::vector<int> indegree(n, 0);
  for (std::size_t v = 0; v < n; ++v) {
    for (int g : inputs[v]) {
      out_edges[static_cast<std::size_t>(g)].push_back(static_cast<int>(v));
      ++indegree[v];
    }
  }
  std::vector<int> result;
  std::deque<int> ready;
  for (std::size_t v = 0; v < n; ++v)
    if (indegree[v] == 0) ready.push_back(static_cast<int>(v));
  std::vector<bool> done(n, false);
  while (!ready.empty()) {
    int v = ready.front();
    ready.pop_front();
    done[static_cast<std::size_t>(v)] = true;
    result.push_back(v);
    for (int w : out_edges[static_cast<std::size_t>(v)])
      if (--indegree[static_cast<std::size_t>(w)] == 0) ready.push_back(w);
  }
  for (std::size_t v = 0; v < n; ++v)
    if (!done[v]) result.push_back(static_cast<int>(v));
  return result;
}

void checker::check_structure() {
  const std::size_t n = model_.variables.size();
  // Every variable has its factors. When a header named an unknown variable (a typo,
  // reported with a suggestion), a "missing factor" here would be the same mistake again.
  if (headers_ok_) {
    for (std::size_t v = 0; v < n; ++v) {
      const variable& var = model_.variables[v];
      if (var.type.size == 0) continue;  // its declaration was already reported
      if (!p_of_[v]) {
        error(diagnostic_kind::missing_p_factor, var.where,
              var.is_data ? fmt::format("the data '{}' has no p factor; add one such as 'p({} | z) {{ ... }}'",
                                        var.name, var.name)
                          : fmt::format("latent '{}' has no p factor (its prior); add one such as 'p({}) = {}'",
                                        var.name, var.name,
                                        var.type.kind == type_kind::sphere ? "HypersphericalUniform()" : "Normal(0, 1)"));
      }
      if (!var.is_data && !q_of_[v]) {
        error(diagnostic_kind::missing_q_factor, var.where,
              fmt::format("latent '{}' has no q factor (its variational posterior); add one such as "
                          "'q({} | {}) {{ ... }}'",
                          var.name, var.name, model_.variables[0].name));
      }
    }
  }

  // No cycles among the p factors, nor among the q factors. Kahn's algorithm (in order())
  // places every variable not on or behind a cycle; from any unplaced one, following
  // unplaced inputs must come back to a variable already seen.
  for (char side : {'p', 'q'}) {
    const auto& of = side == 'p' ? p_of_ : q_of_;
    const auto& inputs = side == 'p' ? p_inputs_ : q_inputs_;
    std::vector<int> ord = order(side);
    std::vector<bool> placed(n, false);
    std::vector<int> indegree(n, 0);
    for (std::size_t v = 0; v < n; ++v) indegree[v] = static_cast<int>(inputs[v].size());
    // Replay Kahn's algorithm to learn which variables it placed.
    {
      std::vector<std::vector<int>> out(n);
      for (std::size_t v = 0; v < n; ++v)
        for (int g : inputs[v]) out[static_cast<std::size_t>(g)].push_back(static_cast<int>(v));
      std::deque<int> ready;
      for (std::size_t v = 0; v < n; ++v)
        if (indegree[v] == 0) ready.push_back(static_cast<int>(v));
      while (!ready.empty()) {
        auto v = static_cast<std::size_t>(ready.front());
        ready.pop_front();
        placed[v] = true;
        for (int w : out[v])
          if (--indegree[static_cast<std::size_t>(w)] == 0) ready.push_back(w);
      }
    }
    int start = -1;
    for (std::size_t v = 0; v < n && start < 0; ++v)
      if (!placed[v]) start = static_cast<int>(v);
    if (start < 0) continue;
    std::vector<int> path;
    std::vector<int> seen_at(n, -1);
    int v = start;
    while (seen_at[static_cast<std::size_t>(v)] < 0) {
      seen_at[static_cast<std::size_t>(v)] = static_cast<int>(path.size());
      path.push_back(v);
      int next = -1;
      for (int g : inputs[static_cast<std::size_t>(v)])
        if (!placed[static_cast<std::size_t>(g)]) {
          next = g;
          break;
        }
      v = next;  // an unplaced variable always has an unplaced input
    }
    std::vector<int> cycle(path.begin() + seen_at[static_cast<std::size_t>(v)], path.end());
    // Edges run from input to output; the path runs from output to input.
    std::string text;
    for (auto it = cycle.rbegin(); it != cycle.rend(); ++it) text += model_.variables[static_cast<std::size_t>(*it)].name + " → ";
    text += model_.variables[static_cast<std::size_t>(cycle.back())].name;
    auto* d = error(diagnostic_kind::cycle, of[static_cast<std::size_t>(cycle.front())]->header,
                    fmt::format("the {} factors form a cycle: {}; they must form a directed acyclic graph", side, text));
    for (std::size_t i = 1; i < cycle.size(); ++i)
      add_note(d, of[static_cast<std::size_t>(cycle[i])]->header, "part of the cycle");
  }

  // What follows depends on every edge of the factor graph.
  if (!headers_ok_) return;

  // The q factors start from the data: every latent is reached from it along q factors.
  {
    std::vector<std::vector<int>> q_out(n);
    for (std::size_t v = 0; v < n; ++v)
      for (int g : q_inputs_[v]) q_out[static_cast<std::size_t>(g)].push_back(static_cast<int>(v));
    std::vector<bool> reached(n, false);
    std::deque<int> todo{model_.data};
    reached[static_cast<std::size_t>(model_.data)] = true;
    while (!todo.empty()) {
      auto v = static_cast<std::size_t>(todo.front());
      todo.pop_front();
      for (int w : q_out[v])
        if (!reached[static_cast<std::size_t>(w)]) {
          reached[static_cast<std::size_t>(w)] = true;
          todo.push_back(w);
        }
    }
    for (std::size_t v = 0; v < n; ++v)
      if (q_of_[v] && !reached[v])
        error(diagnostic_kind::q_unreachable_from_data, q_of_[v]->header,
              fmt::format("{} never sees the data '{}', directly or through other q factors; the variational "
                          "posterior must start from the data, e.g. q({} | {})",
                          header_text(*q_of_[v]), model_.variables[0].name, model_.variables[v].name,
                          model_.variables[0].name));
  }

  // Every latent generates the data: it is an ancestor of the data along p factors.
  check_generates_data(p_inputs_);
}

void checker::check_generates_data(const std::vector<std::vector<int>>& p_inputs) {
  const std::size_t n = model_.variables.size();
  std::vector<bool> ancestor(n, false);
  std::deque<int> todo{model_.data};
  ancestor[static_cast<std::size_t>(model_.data)] = true;
  while (!todo.empty()) {
    auto v = static_cast<std::size_t>(todo.front());
    todo.pop_front();
    for (int g : p_inputs[v])
      if (!ancestor[static_cast<std::size_t>(g)]) {
        ancestor[static_cast<std::size_t>(g)] = true;
        todo.push_back(g);
      }
  }
  for (std::size_t v = 1; v < n; ++v)
    if (p_of_[v] && p_of_[0] && !ancestor[v])
      error(diagnostic_kind::latent_unused, model_.variables[v].where,
            fmt::format("latent '{}' does not generate the data: no chain of p factors leads from '{}' to "
                        "'{}'; condition a p factor on it, e.g. p({} | {})",
                        model_.variables[v].name, model_.variables[v].name, model_.variables[0].name,
                        model_.variables[0].name, model_.variables[v].name));
}

}  // namespace vaec::check_impl
